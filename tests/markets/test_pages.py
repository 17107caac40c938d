"""The trading pages render from the server for visitors and for signed-in traders."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.markets.conftest import place


def page_state(response, element_id="market-state") -> dict:
    """The state a page embeds for its script (json_script)."""
    html = response.content.decode()
    start = html.index(f'id="{element_id}"')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.django_db
def test_market_list_shows_every_market_with_its_ticker(client, traders, gold_buck):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=2_000, price=2_500)
    place(buyer, gold_buck, "buy", quantity=500, price=2_500)

    response = client.get(reverse("market_list"))

    assert response.status_code == 200
    assert reverse("market_detail", args=["GOLD-BUCK"]) in response.content.decode()
    [ticker] = page_state(response, "market-list-state")["tickers"]
    assert ticker["market"] == "GOLD-BUCK"
    assert ticker["last"] == "25.00"
    assert ticker["volume"] == "0.500"


@pytest.mark.django_db
def test_market_list_without_markets(client):
    response = client.get(reverse("market_list"))

    assert response.status_code == 200
    assert "No markets yet." in response.content.decode()


@pytest.mark.django_db
def test_a_visitor_sees_the_public_market_and_a_log_in_prompt(client, traders, gold_buck):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=2_000, price=2_500)
    place(buyer, gold_buck, "buy", quantity=500, price=2_500)
    place(buyer, gold_buck, "buy", quantity=300, price=2_400)

    response = client.get(reverse("market_detail", args=["GOLD-BUCK"]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Log in to trade" in html
    assert f'{reverse("login")}?next=/markets/GOLD-BUCK/' in html
    assert 'id="order-form"' not in html
    state = page_state(response)
    assert state["user"] is None
    assert state["market"]["tick"] == "0.10"
    assert state["market"]["lot"] == "0.100"
    assert state["book"]["asks"] == [["25.00", "1.500"]]
    assert state["book"]["bids"] == [["24.00", "0.300"]]
    assert state["book"]["sequence"] == gold_buck.__class__.objects.get(pk=gold_buck.pk).sequence
    [trade] = state["trades"]
    assert (trade["price"], trade["quantity"], trade["taker_side"]) == ("25.00", "0.500", "buy")
    [candle] = state["candles"]
    assert (candle["open"], candle["close"], candle["volume"]) == ("25.00", "25.00", "0.500")
    assert isinstance(candle["time"], int)


@pytest.mark.django_db
def test_a_trader_sees_the_order_form_balances_orders_and_fills(client, traders, gold_buck):
    seller, buyer = traders
    resting = place(seller, gold_buck, "sell", quantity=2_000, price=2_500)
    place(buyer, gold_buck, "buy", quantity=500, price=2_500)
    client.force_login(seller)

    response = client.get(reverse("market_detail", args=["GOLD-BUCK"]))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="order-form"' in html
    assert "Log in to trade" not in html
    me = page_state(response)["user"]
    assert me["username"] == "trader1"
    assert me["balances"] == [
        {"currency": "GOLD", "balance": "99.500", "held": "1.500", "available": "98.000"},
        {"currency": "BUCK", "balance": "10012.50", "held": "0.00", "available": "10012.50"},
    ]
    [order] = me["open_orders"]
    assert (order["id"], order["status"], order["filled_quantity"]) == (resting.pk, "partially_filled", "0.500")
    assert me["closed_orders"] == []
    [fill] = me["fills"]
    assert (fill["side"], fill["liquidity"], fill["price"], fill["quantity"]) == ("sell", "maker", "25.00", "0.500")


@pytest.mark.django_db
def test_a_user_without_accounts_sees_zero_balances(client, gold_buck, carol):
    client.force_login(carol)

    response = client.get(reverse("market_detail", args=["GOLD-BUCK"]))

    assert response.status_code == 200
    assert [b["available"] for b in page_state(response)["user"]["balances"]] == ["0.000", "0.00"]


@pytest.mark.django_db
@pytest.mark.parametrize("symbol", ["NOPE-BUCK", "gold-buck", "X" * 40])
def test_an_unknown_market_is_not_found(client, gold_buck, symbol):
    response = client.get(f"/markets/{symbol}/")

    assert response.status_code == 404


@pytest.mark.django_db
def test_the_currency_page_and_the_dashboard_link_to_trading(client, gold_buck, alice):
    client.force_login(alice)

    currency_page = client.get(reverse("currency_detail", args=["GOLD"])).content.decode()
    dashboard = client.get(reverse("dashboard")).content.decode()

    assert reverse("market_detail", args=["GOLD-BUCK"]) in currency_page
    assert reverse("market_list") in dashboard


@pytest.mark.django_db
def test_the_market_page_reads_the_same_number_of_queries_however_much_happened(client, traders, gold_buck):
    seller, buyer = traders
    client.force_login(seller)
    url = reverse("market_detail", args=["GOLD-BUCK"])

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    place(seller, gold_buck, "sell", quantity=1_000, price=2_500)
    place(buyer, gold_buck, "buy", quantity=500, price=2_500)
    few = queries_for_page()
    for price in range(2_600, 3_200, 100):
        place(seller, gold_buck, "sell", quantity=1_000, price=price)
        place(buyer, gold_buck, "buy", quantity=500, price=price)
        place(seller, gold_buck, "sell", quantity=100, price=price + 500)

    assert queries_for_page() == few
