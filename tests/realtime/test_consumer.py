"""The websocket feed, one channel at a time, through the real ASGI application and the configured channel layer."""


import pytest
from channels.db import database_sync_to_async

from markets import services as markets
from realtime import consumers, hub
from tests.conftest import make_currency
from tests.realtime.conftest import place_async

pytestmark = pytest.mark.django_db(transaction=True)


async def test_ping_answers_pong(feeds):
    feed = await feeds()
    await feed.assert_usable()


async def test_book_sends_snapshot_then_deltas_in_sequence_until_unsubscribed(feeds, gold_buck, traders):
    seller, buyer = traders
    await place_async(seller, gold_buck, "sell", 1_000, 2_500)
    feed = await feeds()

    assert await feed.subscribe(channel="book", market="GOLD-BUCK") == {
        "type": "subscribed", "channel": "book", "market": "GOLD-BUCK"
    }
    snapshot = await feed.receive()
    assert snapshot == {
        "type": "book.snapshot", "market": "GOLD-BUCK", "sequence": 1, "bids": [], "asks": [["25.00", "1.000"]]
    }

    await place_async(buyer, gold_buck, "buy", 400, 2_500)  # takes 0.400 of the ask
    await place_async(buyer, gold_buck, "buy", 200, 2_400)  # rests as a bid
    assert await feed.receive() == {
        "type": "book.delta", "market": "GOLD-BUCK", "sequence": 2,
        "changes": [{"side": "sell", "price": "25.00", "quantity": "0.600"}],
    }
    assert await feed.receive() == {
        "type": "book.delta", "market": "GOLD-BUCK", "sequence": 3,
        "changes": [{"side": "buy", "price": "24.00", "quantity": "0.200"}],
    }

    await feed.send({"op": "unsubscribe", "channel": "book", "market": "GOLD-BUCK"})
    assert await feed.receive() == {"type": "unsubscribed", "channel": "book", "market": "GOLD-BUCK"}
    await place_async(buyer, gold_buck, "buy", 200, 2_300)
    await feed.assert_quiet()


async def test_trades_arrive_once_each_in_order(feeds, gold_buck, traders):
    seller, buyer = traders
    await place_async(seller, gold_buck, "sell", 300, 2_500)
    await place_async(seller, gold_buck, "sell", 300, 2_600)
    feed = await feeds()
    await feed.subscribe(channel="trades", market="GOLD-BUCK")

    await place_async(buyer, gold_buck, "buy", 600, 2_600)  # two trades, best price first

    first, second = await feed.receive(), await feed.receive()
    assert (first["type"], first["price"], first["quantity"], first["taker_side"]) == ("trade", "25.00", "0.300", "buy")
    assert (second["price"], second["quantity"]) == ("26.00", "0.300")
    assert first["id"] < second["id"] and first["time"].endswith("Z") and first["market"] == "GOLD-BUCK"
    await feed.assert_quiet()


async def test_ticker_is_sent_on_subscribe_and_after_each_change(feeds, gold_buck, traders):
    seller, buyer = traders
    feed = await feeds()
    await feed.subscribe(channel="ticker", market="GOLD-BUCK")
    first = await feed.receive()
    assert (first["type"], first["market"], first["last"], first["best_ask"], first["volume"]) == (
        "ticker", "GOLD-BUCK", None, None, "0.000"
    )

    await place_async(seller, gold_buck, "sell", 1_000, 2_500)
    assert (await feed.receive())["best_ask"] == "25.00"
    await place_async(buyer, gold_buck, "buy", 500, 2_500)
    ticker = await feed.receive()
    assert (ticker["last"], ticker["open"], ticker["high"], ticker["volume"], ticker["change_percent"]) == (
        "25.00", "25.00", "25.00", "0.500", "0.00"
    )


async def test_candles_follow_trades_in_the_chosen_interval(feeds, gold_buck, traders):
    seller, buyer = traders
    feed = await feeds()
    assert (await feed.subscribe(channel="candles", market="GOLD-BUCK", interval="5m"))["interval"] == "5m"
    await feed.assert_quiet()  # no trade yet, no bar

    await place_async(seller, gold_buck, "sell", 1_000, 2_500)
    await feed.assert_quiet()  # a resting order is no trade
    await place_async(buyer, gold_buck, "buy", 300, 2_500)
    candle = await feed.receive()
    assert {k: candle[k] for k in ("type", "market", "interval", "open", "close", "volume")} == {
        "type": "candle", "market": "GOLD-BUCK", "interval": "5m", "open": "25.00", "close": "25.00", "volume": "0.300"
    }
    assert candle["time"].endswith("Z")


async def test_tickers_covers_every_market(feeds, gold_buck, traders):
    seller, _ = traders
    await database_sync_to_async(_second_market)(gold_buck)
    feed = await feeds()
    assert await feed.subscribe(channel="tickers") == {"type": "subscribed", "channel": "tickers", "market": None}
    assert {(await feed.receive())["market"], (await feed.receive())["market"]} == {"GOLD-BUCK", "SILVER-BUCK"}

    await place_async(seller, gold_buck, "sell", 1_000, 2_500)
    ticker = await feed.receive()
    assert (ticker["type"], ticker["market"], ticker["best_ask"]) == ("ticker", "GOLD-BUCK", "25.00")


def _second_market(gold_buck):
    silver = make_currency(gold_buck.created_by, "SILVER", decimals=3)
    return markets.market_create(user=gold_buck.created_by, base=silver, quote=gold_buck.quote)


async def test_private_streams_carry_only_the_users_own_orders_fills_and_balances(feeds, gold_buck, traders):
    seller, buyer = traders
    mine = await feeds(user=buyer)
    for channel in ("orders", "fills", "balances"):
        assert await mine.subscribe(channel=channel) == {"type": "subscribed", "channel": channel, "market": None}
    theirs = await feeds(user=seller)
    await theirs.subscribe(channel="orders", market="GOLD-BUCK")

    await place_async(seller, gold_buck, "sell", 1_000, 2_500)
    order = await theirs.receive()
    assert {k: order[k] for k in ("type", "market", "side", "price", "quantity", "status")} == {
        "type": "order", "market": "GOLD-BUCK", "side": "sell", "price": "25.00", "quantity": "1.000", "status": "open"
    }
    assert "user_id" not in order
    await mine.assert_quiet()  # someone else's order

    taker = await place_async(buyer, gold_buck, "buy", 400, 2_500)
    messages = [await mine.receive() for _ in range(4)]  # one order, one fill, two balances
    by_type = {}
    for message in messages:
        by_type.setdefault(message["type"], []).append(message)
    assert by_type["order"][0]["id"] == taker.pk and by_type["order"][0]["status"] == "filled"
    assert by_type["fill"] == [
        {
            "type": "fill", "id": by_type["fill"][0]["id"], "trade_id": by_type["fill"][0]["id"], "market": "GOLD-BUCK",
            "order_id": taker.pk, "side": "buy", "price": "25.00", "quantity": "0.400", "taker_side": "buy",
            "liquidity": "taker", "fee": "0.000", "fee_currency": "GOLD", "time": by_type["fill"][0]["time"],
        }
    ]
    assert sorted((b["currency"], b["balance"], b["held"], b["available"]) for b in by_type["balance"]) == [
        ("BUCK", "9990.00", "0.00", "9990.00"),
        ("GOLD", "100.400", "0.000", "100.400"),
    ]
    await mine.assert_quiet()
    maker_side = await theirs.receive()  # the seller hears its order's fill on its filtered stream
    assert (maker_side["type"], maker_side["filled_quantity"], maker_side["status"]) == (
        "order", "0.400", "partially_filled"
    )


async def test_private_channel_without_auth_is_refused_and_the_connection_stays_usable(feeds, gold_buck):
    feed = await feeds()
    for channel in ("orders", "fills", "balances"):
        await feed.send({"op": "subscribe", "channel": channel})
        error = await feed.receive()
        assert (error["type"], error["code"]) == ("error", "not_authenticated") and error["message"]
    await feed.assert_usable()


async def test_a_session_cookie_authenticates_only_while_the_session_lasts(feeds, gold_buck, traders):
    from django.contrib.sessions.backends.db import SessionStore

    from tests.realtime.conftest import ORIGIN, session_for

    seller, _ = traders
    key = await database_sync_to_async(session_for)(seller)
    signed_in = await feeds(headers=[ORIGIN, (b"cookie", f"sessionid={key}".encode())])
    assert await signed_in.subscribe(channel="orders")
    await database_sync_to_async(SessionStore(key).delete)()  # signed out
    for cookie in (f"sessionid={key}", "sessionid=made-up"):
        feed = await feeds(headers=[ORIGIN, (b"cookie", cookie.encode())])
        await feed.send({"op": "subscribe", "channel": "orders"})
        assert (await feed.receive())["code"] == "not_authenticated"


async def test_a_bad_api_key_signature_does_not_authenticate(feeds, gold_buck):
    feed = await feeds(headers=[(b"x-api-key", b"ak_nope"), (b"x-api-timestamp", b"1"), (b"x-api-signature", b"00")])
    await feed.send({"op": "subscribe", "channel": "orders"})
    assert (await feed.receive())["code"] == "not_authenticated"


async def test_a_signed_api_key_opens_the_private_streams_until_it_is_revoked(feeds, gold_buck, traders):
    import time

    from api.keys import key_create, key_revoke, signature_for

    trader = traders[0]
    key, secret = await database_sync_to_async(key_create)(user=trader, name="feed", scopes=["read"])

    def signed() -> list[tuple[bytes, bytes]]:
        stamp = str(int(time.time() * 1000))
        signature = signature_for(secret=secret, timestamp=stamp, method="GET", path="/ws/v1", body=b"")
        return [(b"x-api-key", key.key_id.encode()), (b"x-api-timestamp", stamp.encode()),
                (b"x-api-signature", signature.encode())]

    feed = await feeds(headers=signed())
    await feed.send({"op": "subscribe", "channel": "balances"})
    assert (await feed.receive())["type"] == "subscribed"
    await database_sync_to_async(key_revoke)(user=trader, key_id=key.key_id)
    refused = await feeds(headers=signed())
    await refused.send({"op": "subscribe", "channel": "balances"})
    assert (await refused.receive())["code"] == "not_authenticated"


BAD_MESSAGES = [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_json"),
    ("[" * 3000, "bad_json"),
    ({"op": "dance"}, "unknown_op"),
    ({"op": ["subscribe"]}, "unknown_op"),
    ({"op": "subscribe", "channel": "gossip", "market": "GOLD-BUCK"}, "unknown_channel"),
    ({"op": "subscribe", "channel": ["book"]}, "unknown_channel"),
    ({"op": "subscribe", "channel": "book", "market": "NOPE-BUCK"}, "unknown_market"),
    ({"op": "subscribe", "channel": "book", "market": {"a": 1}}, "unknown_market"),
    ({"op": "subscribe", "channel": "book"}, "unknown_market"),
    ({"op": "subscribe", "channel": "candles", "market": "GOLD-BUCK", "interval": "7m"}, "unknown_interval"),
    ({"op": "subscribe", "channel": "candles", "market": "GOLD-BUCK", "interval": ["1m"]}, "unknown_interval"),
    ({"op": "unsubscribe", "channel": "book", "market": "GOLD-BUCK"}, "not_subscribed"),
    ({"op": "ping", "padding": "x" * 5000}, "message_too_large"),
]


async def test_bad_messages_get_an_error_frame_and_the_connection_stays_usable(feeds, gold_buck):
    feed = await feeds()  # one connection takes them all, one after another
    for message, code in BAD_MESSAGES:
        await feed.send(message)
        error = await feed.receive()
        assert (error["type"], error["code"]) == ("error", code) and error["message"], message
        await feed.assert_usable()
    await feed.subscribe(channel="book", market="GOLD-BUCK")


async def test_binary_frames_are_read_as_json_too(feeds):
    feed = await feeds()
    await feed.communicator.send_to(bytes_data=b'{"op": "ping"}')
    assert await feed.receive() == {"type": "pong"}


async def test_subscriptions_per_connection_are_bounded(feeds, gold_buck, monkeypatch):
    monkeypatch.setattr(consumers, "MAX_SUBSCRIPTIONS", 2)
    feed = await feeds()
    await feed.subscribe(channel="candles", market="GOLD-BUCK", interval="1m")
    await feed.subscribe(channel="candles", market="GOLD-BUCK", interval="5m")
    await feed.send({"op": "subscribe", "channel": "candles", "market": "GOLD-BUCK", "interval": "1h"})
    assert (await feed.receive())["code"] == "too_many_subscriptions"
    await feed.subscribe(channel="candles", market="GOLD-BUCK", interval="5m")  # the same one again is no new one
    await feed.assert_usable()


async def test_foreign_origins_are_refused_and_own_or_absent_ones_accepted(gold_buck):
    from channels.testing import WebsocketCommunicator

    from exchange.asgi import application

    for origin, accepted in [
        (b"http://evil.example", False),
        (b"http://testserver.evil.example", False),
        (b"http://testserver", True),
        (b"http://127.0.0.1:8000", True),
        (None, True),  # not a browser: it carries no visitor's cookie
    ]:
        headers = [(b"origin", origin)] if origin else []
        communicator = WebsocketCommunicator(application, "/ws/v1", headers=headers)
        connected, _ = await communicator.connect()
        assert connected is accepted, origin
        await communicator.disconnect()


async def test_heartbeat_is_sent_while_idle(feeds, monkeypatch):
    monkeypatch.setattr(consumers, "HEARTBEAT_SECONDS", 0.05)
    feed = await feeds()
    beat = await feed.receive()
    assert beat["type"] == "heartbeat" and beat["time"].endswith("Z")


# --- ordering: updates that arrive swapped, twice, or never ---------------------------------------------------


@pytest.fixture
def held_updates(monkeypatch):
    """Keep committed updates back instead of publishing them, so a test can deliver them in any order."""
    from markets import events
    from realtime.publish import publish_market_update

    held = []
    monkeypatch.setattr(events, "publish_market_update", held.append)
    return held, lambda payload: database_sync_to_async(publish_market_update)(payload)


async def test_updates_arriving_swapped_or_twice_are_forwarded_once_in_sequence(feeds, gold_buck, traders, held_updates):
    held, deliver = held_updates
    seller, _ = traders
    feed = await feeds()
    await feed.subscribe(channel="book", market="GOLD-BUCK")
    assert (await feed.receive())["sequence"] == 0

    await place_async(seller, gold_buck, "sell", 100, 2_500)
    await place_async(seller, gold_buck, "sell", 100, 2_600)
    first, second = held
    for payload in (second, first, second, first):
        await deliver(payload)

    assert [(m["sequence"], m["changes"][0]["price"]) for m in (await feed.receive(), await feed.receive())] == [
        (1, "25.00"), (2, "26.00")
    ]
    await feed.assert_quiet()


async def test_a_lost_update_is_replaced_by_a_fresh_snapshot_and_its_trades(feeds, gold_buck, traders, held_updates):
    held, deliver = held_updates
    seller, buyer = traders
    await database_sync_to_async(seller.refresh_from_db)()
    feed = await feeds()
    await feed.subscribe(channel="book", market="GOLD-BUCK")
    assert (await feed.receive())["type"] == "book.snapshot"
    await feed.subscribe(channel="trades", market="GOLD-BUCK")

    await place_async(seller, gold_buck, "sell", 500, 2_500)  # 1: rests
    await place_async(buyer, gold_buck, "buy", 200, 2_500)  # 2: trades — and gets lost
    await place_async(seller, gold_buck, "sell", 100, 2_700)  # 3: rests
    await deliver(held[0])
    await deliver(held[2])

    delta = await feed.receive()
    assert (delta["type"], delta["sequence"]) == ("book.delta", 1)
    snapshot = await feed.receive(timeout=hub.GAP_WAIT_SECONDS + 3)  # after waiting for 2 in vain
    assert snapshot == {
        "type": "book.snapshot", "market": "GOLD-BUCK", "sequence": 3,
        "bids": [], "asks": [["25.00", "0.300"], ["27.00", "0.100"]],
    }
    trade = await feed.receive()
    assert (trade["type"], trade["price"], trade["quantity"]) == ("trade", "25.00", "0.200")
    await deliver(held[1])  # the lost one turns up late: the snapshot has it already
    await feed.assert_quiet()
    await place_async(seller, gold_buck, "sell", 100, 2_800)
    await deliver(held[3])
    assert (await feed.receive())["sequence"] == 4
