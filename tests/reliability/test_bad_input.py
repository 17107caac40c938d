"""Bad input and others' ids, for every money-moving endpoint, table-driven: each gets a clear 4xx with a
machine-readable code, and the exchange's whole state is unchanged afterwards.

Bad websocket messages and foreign origins: tests/realtime/test_consumer.py. Forms: tests/ledger/test_pages.py.
"""

import json

import pytest
from django.test import Client

from markets.services import OrderRequest, order_place
from tests.api.conftest import Bot
from tests.helpers import exchange_state

pytestmark = pytest.mark.django_db

# (name, path, a valid body, its money fields, its optional fields). alice issues BUCK and holds GOLD and BUCK.
LIMIT_BUY = {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "25.00"}
ENDPOINTS = [
    ("transfer", "/api/v1/transfers", {"recipient": "carol", "currency": "BUCK", "amount": "1.00"}, ["amount"], []),
    ("mint", "/api/v1/currencies/BUCK/mint", {"amount": "1.00"}, ["amount"], []),
    ("burn", "/api/v1/currencies/BUCK/burn", {"amount": "1.00"}, ["amount"], []),
    ("create currency", "/api/v1/currencies", {"code": "NEWC", "name": "New", "max_supply": "10.00"}, ["max_supply"],
     ["max_supply"]),
    ("open market", "/api/v1/markets", {"base": "BUCK", "quote": "GOLD", "tick": "0.001", "lot": "10.00"},
     ["tick", "lot"], ["tick", "lot"]),
    ("order", "/api/v1/orders", LIMIT_BUY, ["quantity", "price"], ["type"]),
    ("test order", "/api/v1/orders/test", LIMIT_BUY, ["price"], ["type"]),
    ("market buy", "/api/v1/orders", {"market": "GOLD-BUCK", "side": "buy", "type": "market", "quote_budget": "5.00"},
     ["quote_budget"], []),
]
BAD_AMOUNTS = {
    "negative": "-1", "zero": "0", "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "exponent": "1e3",
    "float": 1.5, "integer": 100, "too many decimals": "1.00001", "past 64 bits": "92233720368547758.08",
    "huge": "9" * 40, "empty": "", "null": None, "list": ["1"], "object": {"value": "1"}, "boolean": True,
    "spaces inside": "1 000", "comma": "1,5", "hex": "0x10",
}
MASS_ASSIGNMENT = {"user": 1, "user_id": 1, "status": "filled", "filled_quantity": "1.000", "held": "0", "balance": "9",
                   "issuer": "bob", "is_staff": True, "reserved": "0", "id": 1}
WRONG_TYPES = {"market": ["GOLD-BUCK"], "side": 1, "type": {"limit": True}, "recipient": 7, "currency": ["BUCK"],
               "code": 12, "name": [], "base": None, "time_in_force": 3, "post_only": "maybe", "memo": {"a": 1}}


def cases(endpoint) -> list[tuple[str, dict]]:
    """Every bad variant of one endpoint's valid body, each with a readable label."""
    name, path, body, money_fields, optional = endpoint
    variants = [
        (f"{field} {label}", body | {field: value})
        for field in money_fields
        for label, value in BAD_AMOUNTS.items()
        if not (label == "null" and field in optional)
    ]
    variants += [(f"mass-assigning {field}", body | {field: value}) for field, value in MASS_ASSIGNMENT.items()]
    variants += [(f"{field} of the wrong type", body | {field: value})
                 for field, value in WRONG_TYPES.items() if field in body]
    variants += [(f"without {field}", {k: v for k, v in body.items() if k != field}) for field in set(body) - set(optional)]
    variants += SPECIAL_CASES.get(name, [])
    return variants


SPECIAL_CASES = {
    "order": [
        ("price off the tick", LIMIT_BUY | {"price": "25.05"}),
        ("quantity off the lot", LIMIT_BUY | {"quantity": "1.050"}),
        ("more than the balance", LIMIT_BUY | {"quantity": "100000.000"}),
        ("unknown market", LIMIT_BUY | {"market": "NOPE-BUCK"}),
    ],
    "transfer": [
        ("to oneself", {"recipient": "alice", "currency": "BUCK", "amount": "1.00"}),
        ("to an unknown user", {"recipient": "nobody", "currency": "BUCK", "amount": "1.00"}),
        ("of an unknown currency", {"recipient": "carol", "currency": "NOPE", "amount": "1.00"}),
    ],
    "open market": [
        ("for a pair that has one", {"base": "GOLD", "quote": "BUCK"}),
        ("of one currency twice", {"base": "BUCK", "quote": "BUCK"}),
    ],
}


@pytest.fixture
def alice_bot(funded, alice):
    return Bot(alice)


def assert_refused(response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    return error["code"]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[endpoint[0] for endpoint in ENDPOINTS])
def test_bad_bodies_are_refused_and_change_nothing(alice_bot, endpoint, subtests):
    path = endpoint[1]
    for label, body in cases(endpoint):
        with subtests.test(label):
            before = exchange_state()
            assert_refused(alice_bot.post(path, body))
            assert exchange_state() == before


def test_minting_someone_elses_currency_is_refused(alice_bot):
    before = exchange_state()
    assert assert_refused(alice_bot.post("/api/v1/currencies/GOLD/mint", {"amount": "1.000"})) == "permission_denied"
    assert exchange_state() == before


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b'{"amount": ', "malformed_json"),
        (b'{"amount": NaN}', "malformed_json"),
        (b"[1, 2, 3]", None),
        (b'"just a string"', None),
        (b"\xff\xfe", None),
        (json.dumps({"amount": "1.00", "memo": "x" * 70_000}).encode(), None),  # past the body size limit
    ],
    ids=["truncated", "NaN literal", "a list", "a string", "not UTF-8", "oversized"],
)
def test_malformed_and_oversized_bodies(alice_bot, raw, code):
    before = exchange_state()
    refused = assert_refused(alice_bot.post("/api/v1/currencies/BUCK/mint", raw=raw))
    assert code is None or refused == code
    assert exchange_state() == before


def test_others_ids_and_unknown_ids_answer_not_found(funded, alice, bob, carol):
    bobs_order = order_place(user=carol, market_id=funded.pk,
                             request=OrderRequest(side="buy", type="limit", quantity=1_000, price=2_000))
    carol_bot, bob_bot = Bot(carol), Bot(bob)
    transfer = carol_bot.post("/api/v1/transfers", {"recipient": "alice", "currency": "BUCK", "amount": "1.00"}).json()
    intruder = Bot(alice)
    before = exchange_state()
    for method, path in [
        ("DELETE", f"/api/v1/orders/{bobs_order.pk}"),
        ("GET", f"/api/v1/orders/{bobs_order.pk}"),
        ("DELETE", "/api/v1/orders/999999"),
        ("GET", "/api/v1/orders/by-client-id/nope"),
        ("DELETE", f"/api/v1/keys/{bob_bot.key.key_id}"),
        ("DELETE", "/api/v1/keys/ak_unknown"),
    ]:
        response = intruder.request(method, path)
        assert (response.status_code, assert_refused(response)) == (404, "not_found"), path
    # alice was the recipient, so she may see that transfer; bob may not.
    assert bob_bot.get(f"/api/v1/transfers/{transfer['id']}").status_code == 404
    assert exchange_state() == before


@pytest.mark.parametrize("credentials", ["none", "unknown key", "bad signature", "stale timestamp", "revoked key",
                                         "read-only key"])
def test_missing_bad_or_insufficient_credentials_move_nothing(funded, alice, credentials):
    bot = Bot(alice, scopes=("read",) if credentials == "read-only key" else ("read", "trade", "transfer", "issue"))
    body = {"recipient": "carol", "currency": "BUCK", "amount": "1.00"}
    if credentials == "revoked key":
        from api.keys import key_revoke

        key_revoke(user=alice, key_id=bot.key.key_id)
    before = exchange_state()
    if credentials == "none":
        response = Client().post("/api/v1/transfers", body, content_type="application/json")
    elif credentials == "unknown key":
        response = bot.post("/api/v1/transfers", body, headers={"X-API-Key": "ak_000000000000000000000000"})
    elif credentials == "bad signature":
        response = bot.post("/api/v1/transfers", body, headers={"X-API-Signature": "0" * 64})
    elif credentials == "stale timestamp":
        response = bot.post("/api/v1/transfers", body, timestamp=1_600_000_000_000)
    else:
        response = bot.post("/api/v1/transfers", body)
    assert response.status_code in (401, 403)
    assert_refused(response)
    assert exchange_state() == before


def test_a_browser_post_without_csrf_moves_nothing(funded, alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    before = exchange_state()
    response = browser.post("/api/v1/transfers", {"recipient": "carol", "currency": "BUCK", "amount": "1.00"},
                            content_type="application/json")
    assert response.status_code == 403
    assert_refused(response)
    assert exchange_state() == before
