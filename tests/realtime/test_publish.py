"""Committed updates: one message to every process; the hub hands public parts on, private parts to owners only."""

from asgiref.sync import async_to_sync

from realtime import publish
from realtime.hub import Hub, PrivateUpdate, TickerNotice
from realtime.publish import feed_message, private_parts

PAYLOAD = {
    "market": "GOLD-BUCK",
    "sequence": 7,
    "book": [{"side": "sell", "price": "25.00", "quantity": "0.600"}],
    "trades": [{"id": 1, "market": "GOLD-BUCK", "price": "25.00", "quantity": "0.400", "taker_side": "buy", "time": "t"}],
    "orders": [{"user_id": 1, "id": 10, "status": "filled"}, {"user_id": 2, "id": 9, "status": "partially_filled"}],
    "fills": [{"user_id": 1, "order_id": 10, "side": "buy"}, {"user_id": 2, "order_id": 9, "side": "sell"}],
    "balances": [{"user_id": 1, "currency": "BUCK", "balance": "1.00"}],
}


class Follower:
    def __init__(self):
        self.items = []

    def deliver(self, item):
        self.items.append(item)


class Layer:
    def __init__(self):
        self.sent = []

    async def group_send(self, group, message):
        self.sent.append((group, message))


def test_what_committed_since_the_last_send_is_one_message_to_every_process(monkeypatch):
    layer, later = Layer(), {**PAYLOAD, "sequence": 8}
    monkeypatch.setattr(publish, "get_channel_layer", lambda: layer)
    async_to_sync(publish._send_queued)([PAYLOAD, later])
    assert layer.sent == [("feed", {"type": "feed.updates", "payloads": [PAYLOAD, later]})]


def test_each_user_gets_only_its_own_part_without_user_ids():
    parts = private_parts(PAYLOAD)
    assert parts[1] == {
        "market": "GOLD-BUCK",
        "orders": [{"id": 10, "status": "filled"}],
        "fills": [{"order_id": 10, "side": "buy"}],
        "balances": [{"currency": "BUCK", "balance": "1.00"}],
    }
    assert parts[2] == {"market": "GOLD-BUCK", "orders": [{"id": 9, "status": "partially_filled"}],
                        "fills": [{"order_id": 9, "side": "sell"}], "balances": []}
    assert PAYLOAD["orders"][0]["user_id"] == 1  # the payload itself is left as it was


def test_the_hub_hands_the_private_part_to_its_user_and_the_notice_to_tickers_followers():
    hub = Hub(layer=None)
    tickers, user_1, user_3 = Follower(), Follower(), Follower()
    hub.ticker_followers.add(tickers)
    hub.user_followers = {1: {user_1}, 3: {user_3}}

    hub._dispatch(feed_message([PAYLOAD, {**PAYLOAD, "sequence": 8}]))

    assert tickers.items == [TickerNotice("GOLD-BUCK", 7), TickerNotice("GOLD-BUCK", 8)]
    assert user_1.items == [PrivateUpdate(private_parts(PAYLOAD)[1])] * 2
    assert user_3.items == []  # user 3 took no part in it


def test_a_change_that_left_the_book_alone_is_private_only():
    hub = Hub(layer=None)
    tickers, user_2 = Follower(), Follower()
    hub.ticker_followers.add(tickers)
    hub.user_followers = {2: {user_2}}
    quiet = {**PAYLOAD, "book": [], "trades": [], "fills": [], "balances": []}

    hub._dispatch(feed_message([quiet]))

    assert tickers.items == []
    assert [item.part["orders"] for item in user_2.items] == [[{"id": 9, "status": "partially_filled"}]]
