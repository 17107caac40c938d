"""Two bots trade against each other only over HTTP, then the books balance."""

import pytest

from tests.helpers import assert_audit_passes

pytestmark = pytest.mark.django_db


def test_two_bots_trade_over_http(alice, carol, make_bot, funded):
    seller, buyer = make_bot(alice, scopes=["read", "trade"]), make_bot(carol, scopes=["read", "trade"])
    ask = seller.post("/api/v1/orders", {"market": "GOLD-BUCK", "side": "sell", "type": "limit", "quantity": "3.000", "price": "25.00", "client_order_id": "s-1"})
    assert ask.status_code == 201
    bid = buyer.post("/api/v1/orders", {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "25.50"})
    assert (bid.json()["status"], bid.json()["average_price"]) == ("filled", "25.00")  # at the maker's price
    ask = seller.get("/api/v1/orders/by-client-id/s-1").json()
    assert (ask["status"], ask["filled_quantity"]) == ("partially_filled", "1.000")
    book = buyer.get("/api/v1/markets/GOLD-BUCK/book").json()
    assert (book["bids"], book["asks"]) == ([], [["25.00", "2.000"]])
    cancelled = seller.delete(f"/api/v1/orders/{ask['id']}").json()
    assert cancelled["status"] == "cancelled"
    [sold] = seller.get("/api/v1/fills").json()["results"]
    [bought] = buyer.get("/api/v1/fills").json()["results"]
    assert (sold["side"], sold["liquidity"], sold["quantity"], sold["quote_amount"]) == ("sell", "maker", "1.000", "25.00")
    assert (bought["side"], bought["liquidity"]) == ("buy", "taker")
    balances = {b["currency"]: b for b in buyer.get("/api/v1/balances").json()["results"]}
    assert (balances["GOLD"]["balance"], balances["BUCK"]["available"]) == ("101.000", "9975.00")
    balances = {b["currency"]: b for b in seller.get("/api/v1/balances").json()["results"]}
    assert (balances["GOLD"]["held"], balances["BUCK"]["balance"]) == ("0.000", "10025.00")
    assert buyer.get("/api/v1/markets/GOLD-BUCK/ticker").json()["last"] == "25.00"
    assert_audit_passes()
