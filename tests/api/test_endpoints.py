"""Every endpoint: what it answers, each documented error, and other users' objects answering 404."""

import pytest

from ledger.models import Currency, SupplyChange, Transfer
from markets import selectors, store
from markets import services as markets
from markets.models import Market, Order
from tests.api.conftest import error_code
from tests.conftest import fund, make_currency
from tests.helpers import assert_audit_passes, ledger_state

pytestmark = pytest.mark.django_db

BUY = {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "25.00"}


def test_public_market_data(client, funded, make_bot, carol, alice):
    make_bot(alice).post("/api/v1/orders", BUY | {"side": "sell", "quantity": "2.000"})
    make_bot(carol).post("/api/v1/orders", BUY)
    assert client.get("/api/v1/time").json()["epoch_ms"] > 0
    currency = client.get("/api/v1/currencies/GOLD").json()
    assert currency | {"created_at": None} == {
        "code": "GOLD", "name": "Gold coin", "decimals": 3, "issuer": "bob", "total_supply": "200.000",
        "circulating_supply": "200.000", "holders": 2, "max_supply": None, "minting_renounced": False,
        "created_at": None,
    }
    assert [c["code"] for c in client.get("/api/v1/currencies").json()["results"]] == ["BUCK", "GOLD"]
    changes = client.get("/api/v1/currencies/GOLD/supply-changes").json()["results"]
    assert [(c["kind"], c["amount"]) for c in changes] == [("mint", "100.000"), ("mint", "100.000")]
    market = client.get("/api/v1/markets/GOLD-BUCK").json()
    assert (market["tick"], market["lot"], market["min_quantity"], market["precision"]) == (
        "0.10", "0.100", "0.100", {"price": 2, "quantity": 3}
    )
    assert client.get("/api/v1/markets").json()["results"][0]["symbol"] == "GOLD-BUCK"
    book = client.get("/api/v1/markets/GOLD-BUCK/book?depth=5").json()
    assert (book["bids"], book["asks"]) == ([], [["25.00", "1.000"]])
    trades = client.get("/api/v1/markets/GOLD-BUCK/trades?limit=10").json()
    assert [(t["price"], t["quantity"], t["taker_side"]) for t in trades] == [("25.00", "1.000", "buy")]
    ticker = client.get("/api/v1/markets/GOLD-BUCK/ticker").json()
    assert (ticker["last"], ticker["best_ask"], ticker["volume"], ticker["change_percent"]) == ("25.00", "25.00", "1.000", "0.00")
    assert client.get("/api/v1/tickers").json() == [ticker]
    [bar] = client.get("/api/v1/markets/GOLD-BUCK/candles?interval=5m").json()
    assert (bar["open"], bar["close"], bar["volume"]) == ("25.00", "25.00", "1.000")
    assert bar["time"].endswith("Z")


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/currencies/NOPE", 404, "not_found"),
        ("/api/v1/currencies/NOPE/supply-changes", 404, "not_found"),
        ("/api/v1/markets/NO-PE", 404, "not_found"),
        ("/api/v1/markets/GOLD-BUCK/book?depth=0", 400, "validation_error"),
        ("/api/v1/markets/GOLD-BUCK/book?depth=abc", 400, "validation_error"),
        ("/api/v1/markets/GOLD-BUCK/trades?limit=5000", 400, "validation_error"),
        ("/api/v1/markets/GOLD-BUCK/candles?interval=2m", 400, "validation_error"),
        ("/api/v1/markets/GOLD-BUCK/candles?start=yesterday", 400, "validation_error"),
        ("/api/v1/markets/GOLD-BUCK/candles?start=2026-01-02T00:00Z&end=2026-01-01T00:00Z", 400, "validation_error"),
        ("/api/v1/markets?cursor=garbage", 400, "validation_error"),
        ("/api/v1/no-such-thing", 404, "not_found"),
    ],
)
def test_public_errors(client, market, path, status, code):
    response = client.get(path)
    assert (response.status_code, error_code(response)) == (status, code)


def test_method_not_allowed(client, market):
    response = client.put("/api/v1/time")
    assert (response.status_code, error_code(response)) == (405, "method_not_allowed")


def test_order_lifecycle_and_reads(carol, make_bot, funded):
    bot = make_bot(carol)
    placed = bot.post("/api/v1/orders", BUY | {"client_order_id": "c-1"})
    assert placed.status_code == 201
    order = placed.json()
    assert (order["status"], order["price"], order["client_order_id"]) == ("open", "25.00", "c-1")
    assert bot.get(f"/api/v1/orders/{order['id']}").json() == order
    assert bot.get("/api/v1/orders/by-client-id/c-1").json() == order
    assert [o["id"] for o in bot.get("/api/v1/orders?status=open&market=GOLD-BUCK").json()["results"]] == [order["id"]]
    assert bot.get("/api/v1/orders?status=closed").json()["results"] == []
    balances = {b["currency"]: b for b in bot.get("/api/v1/balances").json()["results"]}
    assert balances["BUCK"] == {"currency": "BUCK", "balance": "10000.00", "held": "25.00", "available": "9975.00"}
    cancelled = bot.delete(f"/api/v1/orders/{order['id']}")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    again = bot.delete(f"/api/v1/orders/{order['id']}")
    assert (again.status_code, error_code(again)) == (409, "order_not_open")
    assert_audit_passes()


def test_replaying_a_client_order_id_answers_200_with_the_same_order(carol, make_bot, funded):
    bot = make_bot(carol)
    first = bot.post("/api/v1/orders", BUY | {"client_order_id": "c-9"})
    second = bot.post("/api/v1/orders", BUY | {"client_order_id": "c-9"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    different = bot.post("/api/v1/orders", BUY | {"client_order_id": "c-9", "price": "26.00"})
    assert (different.status_code, error_code(different)) == (409, "idempotency_key_reused")
    assert Order.objects.count() == 1


def test_cancel_all_in_a_market(carol, make_bot, funded):
    bot = make_bot(carol)
    for price in ("20.00", "21.00"):
        bot.post("/api/v1/orders", BUY | {"price": price})
    response = bot.delete("/api/v1/orders?market=GOLD-BUCK")
    assert [o["status"] for o in response.json()["cancelled"]] == ["cancelled", "cancelled"]
    missing = bot.delete("/api/v1/orders")
    assert (missing.status_code, error_code(missing)) == (400, "validation_error")
    assert_audit_passes()


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"quantity": 1.0}, 400, "invalid_amount"),
        ({"price": 25}, 400, "invalid_amount"),
        ({"price": "2.5e1"}, 400, "invalid_amount"),
        ({"price": "25.001"}, 400, "invalid_amount"),
        ({"price": "25.05"}, 400, "invalid_price"),
        ({"quantity": "0.050"}, 400, "invalid_quantity"),
        ({"quantity": "99999.000"}, 409, "insufficient_funds"),
        ({"side": "hold"}, 400, "validation_error"),
        ({"market": "NO-PE"}, 404, "not_found"),
        ({"client_order_id": "x" * 65}, 400, "validation_error"),
    ],
)
def test_bad_orders_are_refused_and_change_nothing(carol, make_bot, funded, change, status, code):
    bot = make_bot(carol)
    before = ledger_state()
    response = bot.post("/api/v1/orders", BUY | change)
    assert (response.status_code, error_code(response)) == (status, code)
    assert ledger_state() == before and not Order.objects.exists()
    test = bot.post("/api/v1/orders/test", BUY | change)
    assert (test.status_code, error_code(test)) == (status, code)


def test_malformed_and_non_strict_json_are_refused(carol, make_bot, funded):
    bot = make_bot(carol)
    for raw in (b"{not json", b'{"market": "GOLD-BUCK", "side": "buy", "quantity": NaN}', b'{"price": Infinity}'):
        response = bot.post("/api/v1/orders", raw=raw)
        assert (response.status_code, error_code(response)) == (400, "malformed_json")
    assert not Order.objects.exists()


def test_an_oversized_body_answers_413(carol, make_bot, funded):
    bot = make_bot(carol)
    response = bot.post("/api/v1/orders", BUY | {"memo": "x" * 70_000})
    assert (response.status_code, error_code(response)) == (413, "payload_too_large")


def test_a_market_halt_answers_503(carol, make_bot, funded):
    Market.objects.update(status="halted")
    response = make_bot(carol).post("/api/v1/orders", BUY)
    assert (response.status_code, error_code(response)) == (503, "market_halted")


def test_an_order_request_reads_its_market_once_per_process_and_a_halt_still_stops_it(
    carol, make_bot, funded, monkeypatch
):
    bot, read = make_bot(carol), []
    by_symbol = store.market_by_symbol
    monkeypatch.setattr(store, "market_by_symbol", lambda symbol: read.append(symbol) or by_symbol(symbol))
    assert bot.post("/api/v1/orders", BUY).status_code == 201
    Market.objects.update(status="halted")  # no save: the process's copy of the market still says open
    halted = bot.post("/api/v1/orders", BUY)
    assert (halted.status_code, error_code(halted)) == (503, "market_halted")  # read again under the market lock
    assert read == ["GOLD-BUCK"]
    tested = bot.post("/api/v1/orders/test", BUY)  # no lock to read it under: the order test reads it afresh
    assert (tested.status_code, error_code(tested)) == (503, "market_halted")
    assert Order.objects.count() == 1


# Old GOLD has 3 decimals: the copy takes "1.00" for 1000 units (the order path then refuses the key), and
# refuses "1.0000" itself.
@pytest.mark.parametrize("decimals, quantity", [(2, "1.00"), (4, "1.0000")])
def test_an_order_named_by_an_out_of_date_copy_of_its_market_goes_to_the_market_of_its_symbol(
    carol, alice, bob, make_bot, funded, decimals, quantity
):
    bot = make_bot(carol)
    assert bot.post("/api/v1/orders", BUY).status_code == 201  # the process now holds GOLD-BUCK's copy
    # As after restoring a database under running servers: GOLD-BUCK is another market now, and its old key names
    # a market of another symbol, with other decimals.
    old = funded
    Market.objects.filter(pk=old.pk).update(symbol="OLD-GOLD")
    gold2 = make_currency(bob, "GOLDB", decimals=decimals)
    new = markets.market_create(user=alice, base=gold2, quote=old.quote)
    Market.objects.filter(pk=new.pk).update(symbol="GOLD-BUCK")
    fund(carol, gold2, 10**decimals)
    selectors._markets_for_orders["GOLD-BUCK"] = old  # what the process held (market_create cleared it here)
    placed = bot.post("/api/v1/orders", BUY | {"side": "sell", "quantity": quantity})
    assert placed.status_code == 201
    assert Order.objects.get(pk=placed.json()["id"]).market_id == new.pk
    assert (placed.json()["market"], placed.json()["quantity"]) == ("GOLD-BUCK", quantity)
    assert Order.objects.filter(market=old).count() == 1
    assert_audit_passes()


def test_order_test_places_nothing(carol, make_bot, funded):
    before = ledger_state()
    response = make_bot(carol).post("/api/v1/orders/test", BUY)
    assert response.json() == {"valid": True, "hold": "25.00", "hold_currency": "BUCK"}
    assert ledger_state() == before and not Order.objects.exists()


def test_other_users_objects_answer_404(carol, alice, make_bot, funded):
    mine, theirs = make_bot(carol), make_bot(alice)
    order = mine.post("/api/v1/orders", BUY | {"client_order_id": "secret"}).json()
    transfer = mine.post("/api/v1/transfers", {"recipient": "bob", "currency": "BUCK", "amount": "1.00"}).json()
    before = ledger_state()
    for response in (
        theirs.get(f"/api/v1/orders/{order['id']}"),
        theirs.delete(f"/api/v1/orders/{order['id']}"),
        theirs.get("/api/v1/orders/by-client-id/secret"),
        theirs.get(f"/api/v1/transfers/{transfer['id']}"),
        theirs.delete(f"/api/v1/keys/{mine.key.key_id}"),
    ):
        assert (response.status_code, error_code(response)) == (404, "not_found")
    assert ledger_state() == before and Order.objects.get().status == "open"
    assert theirs.get("/api/v1/orders").json()["results"] == []


def test_fills_from_each_side(carol, alice, make_bot, funded):
    maker, taker = make_bot(alice), make_bot(carol)
    maker.post("/api/v1/orders", BUY | {"side": "sell"})
    taker.post("/api/v1/orders", BUY)
    [sold] = maker.get("/api/v1/fills?market=GOLD-BUCK").json()["results"]
    [bought] = taker.get("/api/v1/fills").json()["results"]
    assert (sold["side"], sold["liquidity"], sold["fee_currency"]) == ("sell", "maker", "BUCK")
    assert (bought["side"], bought["liquidity"], bought["fee_currency"], bought["quantity"]) == ("buy", "taker", "GOLD", "1.000")


def test_transfers(carol, make_bot, funded):
    bot = make_bot(carol)
    sent = bot.post("/api/v1/transfers", {"recipient": "bob", "currency": "BUCK", "amount": "12.50", "memo": "hi"})
    assert sent.status_code == 201
    assert sent.json() | {"id": 0, "created_at": ""} == {
        "id": 0, "sender": "carol", "recipient": "bob", "currency": "BUCK", "amount": "12.50", "memo": "hi",
        "created_at": "",
    }
    assert bot.get(f"/api/v1/transfers/{sent.json()['id']}").json() == sent.json()
    assert bot.get("/api/v1/transfers").json()["results"][0] == sent.json()
    before = ledger_state()
    for payload, status, code in [
        ({"recipient": "nobody", "currency": "BUCK", "amount": "1.00"}, 404, "not_found"),
        ({"recipient": "bob", "currency": "BUCK", "amount": "1000000.00"}, 409, "insufficient_funds"),
        ({"recipient": "bob", "currency": "BUCK", "amount": 1}, 400, "invalid_amount"),
        ({"recipient": "carol", "currency": "BUCK", "amount": "1.00"}, 400, "validation_error"),
        ({"recipient": "bob", "currency": "BUCK"}, 400, "validation_error"),
    ]:
        response = bot.post("/api/v1/transfers", payload)
        assert (response.status_code, error_code(response)) == (status, code), payload
    assert ledger_state() == before


def test_issuing_a_currency_and_opening_a_market(carol, bob, make_bot, funded):
    bot = make_bot(carol)
    created = bot.post("/api/v1/currencies", {"code": "TEA", "name": "Tea", "decimals": 1, "max_supply": "100.0"})
    assert (created.status_code, created.json()["max_supply"]) == (201, "100.0")
    minted = bot.post("/api/v1/currencies/TEA/mint", {"amount": "60.0", "memo": "first"})
    assert (minted.status_code, minted.json()["amount"]) == (201, "60.0")
    too_much = bot.post("/api/v1/currencies/TEA/mint", {"amount": "50.0"})
    assert (too_much.status_code, error_code(too_much)) == (409, "max_supply_exceeded")
    burned = bot.post("/api/v1/currencies/TEA/burn", {"amount": "10.0"})
    assert (burned.status_code, burned.json()["kind"]) == (201, "burn")
    assert bot.get("/api/v1/currencies/TEA").json()["total_supply"] == "50.0"
    not_issuer = make_bot(bob).post("/api/v1/currencies/TEA/mint", {"amount": "1.0"})
    assert (not_issuer.status_code, error_code(not_issuer)) == (403, "permission_denied")
    renounced = bot.post("/api/v1/currencies/TEA/renounce-minting")
    assert renounced.json()["minting_renounced"] is True
    refused = bot.post("/api/v1/currencies/TEA/mint", {"amount": "1.0"})
    assert (refused.status_code, error_code(refused)) == (409, "minting_renounced")
    taken = bot.post("/api/v1/currencies", {"code": "TEA", "name": "Tea again"})
    assert (taken.status_code, error_code(taken)) == (409, "conflict")
    opened = bot.post("/api/v1/markets", {"base": "TEA", "quote": "BUCK", "taker_fee_bps": 10})
    assert (opened.status_code, opened.json()["symbol"], opened.json()["tick"]) == (201, "TEA-BUCK", "0.01")
    twice = bot.post("/api/v1/markets", {"base": "TEA", "quote": "BUCK"})
    assert (twice.status_code, error_code(twice)) == (409, "conflict")
    bad_steps = bot.post("/api/v1/markets", {"base": "BUCK", "quote": "TEA", "tick": "0.1", "lot": "0.01"})
    assert (bad_steps.status_code, error_code(bad_steps)) == (400, "validation_error")
    assert Currency.objects.filter(code="TEA").count() == 1 and SupplyChange.objects.filter(currency__code="TEA").count() == 2
    assert not Transfer.objects.filter(currency__code="TEA").exists()
    assert_audit_passes()


def test_keys_api(carol, make_bot):
    bot = make_bot(carol, scopes=["read", "trade"])
    created = bot.post("/api/v1/keys", {"name": "child", "scopes": ["read"], "allowed_ips": ["127.0.0.1"]})
    assert created.status_code == 201 and len(created.json()["secret"]) == 64
    listed = bot.get("/api/v1/keys").json()["results"]
    assert [k["name"] for k in listed] == ["child", "carol bot"] and all("secret" not in k for k in listed)
    revoked = bot.delete(f"/api/v1/keys/{created.json()['id']}")
    assert revoked.json()["revoked_at"] is not None
    bad = bot.post("/api/v1/keys", {"name": "x", "scopes": ["root"]})
    assert (bad.status_code, error_code(bad)) == (400, "validation_error")
