"""Routing one committed update to its groups: public parts to the market, private parts to their owners only."""

from realtime.publish import _messages

PAYLOAD = {
    "market": "GOLD-BUCK",
    "sequence": 7,
    "book": [{"side": "sell", "price": "25.00", "quantity": "0.600"}],
    "trades": [{"id": 1, "market": "GOLD-BUCK", "price": "25.00", "quantity": "0.400", "taker_side": "buy", "time": "t"}],
    "orders": [{"user_id": 1, "id": 10, "status": "filled"}, {"user_id": 2, "id": 9, "status": "partially_filled"}],
    "fills": [{"user_id": 1, "order_id": 10, "side": "buy"}, {"user_id": 2, "order_id": 9, "side": "sell"}],
    "balances": [{"user_id": 1, "currency": "BUCK", "balance": "1.00"}],
}


def test_each_group_gets_its_part_and_no_user_ids_leak():
    messages = dict(_messages(PAYLOAD))
    assert messages["market.GOLD-BUCK"] == {
        "type": "market.update",
        "payload": {key: PAYLOAD[key] for key in ("market", "sequence", "book", "trades")},
    }
    assert messages["tickers"] == {"type": "tickers.update", "market": "GOLD-BUCK", "sequence": 7}
    assert messages["user.1"]["payload"] == {
        "market": "GOLD-BUCK",
        "orders": [{"id": 10, "status": "filled"}],
        "fills": [{"order_id": 10, "side": "buy"}],
        "balances": [{"currency": "BUCK", "balance": "1.00"}],
    }
    assert messages["user.2"]["payload"]["orders"] == [{"id": 9, "status": "partially_filled"}]
    assert PAYLOAD["orders"][0]["user_id"] == 1  # the payload itself is left as it was


def test_a_change_that_left_the_book_alone_is_private_only():
    quiet = {**PAYLOAD, "book": [], "trades": [], "fills": [], "balances": []}
    assert [group for group, _ in _messages(quiet)] == ["user.1", "user.2"]
