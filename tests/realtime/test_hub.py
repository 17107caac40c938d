"""The in-process fan-out (realtime/hub.py): one group membership per process, each update taken and encoded once."""

import asyncio
from types import SimpleNamespace

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer

from realtime import consumers, hub
from realtime.hub import MarketStream, Update, hub_for
from tests.realtime.conftest import Stalling, place_async


def payload(sequence: int) -> dict:
    return {"market": "X-Y", "sequence": sequence, "book": [{"side": "buy", "price": "1.00", "quantity": "1"}],
            "trades": []}


class Recorder:
    def __init__(self):
        self.items = []

    def deliver(self, item) -> None:
        self.items.append(item)


# --- the stream alone: no database, no layer -------------------------------------------------------------------


async def test_a_stream_hands_each_update_once_in_order_to_every_follower_as_the_same_object():
    stream = MarketStream(SimpleNamespace(symbol="X-Y"))
    first, second = Recorder(), Recorder()
    stream.followers |= {first, second}
    stream.sequencer.reset(0)
    for sequence in (2, 1, 2, 1, 3):
        stream.add(payload(sequence))
    assert [item.sequence for item in first.items] == [1, 2, 3]
    assert all(a is b for a, b in zip(first.items, second.items, strict=True))  # encoded once, shared
    assert first.items[0] == Update("X-Y", 1, '{"type":"book.delta","market":"X-Y","sequence":1,'
                                    '"changes":[{"side":"buy","price":"1.00","quantity":"1"}]}', ())


async def test_a_stream_gives_up_on_a_lost_update_after_a_while_and_goes_on(monkeypatch):
    monkeypatch.setattr(hub, "GAP_WAIT_SECONDS", 0.01)
    stream = MarketStream(SimpleNamespace(symbol="X-Y"))
    follower = Recorder()
    stream.followers.add(follower)
    stream.sequencer.reset(0)
    stream.add(payload(1))
    stream.add(payload(3))  # 2 never comes
    assert [item.sequence for item in follower.items] == [1]
    await asyncio.sleep(0.1)
    assert [item.sequence for item in follower.items] == [1, 3]  # the consumer sees the jump and resynchronises
    stream.add(payload(2))  # too late: dropped
    stream.add(payload(4))
    assert [item.sequence for item in follower.items] == [1, 3, 4]


# --- through the real application and channel layer -------------------------------------------------------------

with_database = pytest.mark.django_db(transaction=True)


@with_database
async def test_two_consumers_in_one_process_share_one_membership_and_each_get_the_update_once(
    feeds, gold_buck, traders, monkeypatch
):
    layer = get_channel_layer()
    joins, leaves, taken = [], [], []
    group_add, group_discard, add = layer.group_add, layer.group_discard, MarketStream.add

    async def spy_add(group, channel):
        joins.append(group)
        await group_add(group, channel)

    async def spy_discard(group, channel):
        leaves.append(group)
        await group_discard(group, channel)

    def spy_stream_add(self, update):
        taken.append(update["sequence"])
        add(self, update)

    monkeypatch.setattr(layer, "group_add", spy_add)
    monkeypatch.setattr(layer, "group_discard", spy_discard)
    monkeypatch.setattr(MarketStream, "add", spy_stream_add)
    seller, _ = traders
    first, second = await feeds(), await feeds()
    for feed in (first, second):
        await feed.subscribe(channel="book", market="GOLD-BUCK")
        assert (await feed.receive())["type"] == "book.snapshot"
    await second.subscribe(channel="trades", market="GOLD-BUCK")  # a second stream of a market it follows already

    await place_async(seller, gold_buck, "sell", 100, 2_500)
    for feed in (first, second):
        delta = await feed.receive()
        assert (delta["type"], delta["sequence"]) == ("book.delta", 1)
        await feed.assert_quiet()
    assert taken == [1]  # the process took the update off the layer once, for both
    assert joins == ["feed"]  # once for the process, not per connection or per stream

    await first.send({"op": "unsubscribe", "channel": "book", "market": "GOLD-BUCK"})
    assert (await first.receive())["type"] == "unsubscribed"
    assert leaves == []  # the second still follows
    await second.send({"op": "unsubscribe", "channel": "book", "market": "GOLD-BUCK"})
    await second.send({"op": "unsubscribe", "channel": "trades", "market": "GOLD-BUCK"})
    assert [(await second.receive())["type"] for _ in range(2)] == ["unsubscribed", "unsubscribed"]
    assert leaves == ["feed"]  # the last one out left the group
    assert hub_for(layer).markets == {} and hub_for(layer).channel is None

    await place_async(seller, gold_buck, "sell", 100, 2_600)
    await first.assert_quiet()
    await second.assert_quiet()


@with_database
async def test_a_closed_connection_lets_go_of_its_streams(feeds, gold_buck):
    feed = await feeds()
    await feed.subscribe(channel="book", market="GOLD-BUCK")
    assert (await feed.receive())["type"] == "book.snapshot"
    await feed.subscribe(channel="tickers")
    assert "GOLD-BUCK" in hub_for(get_channel_layer()).markets
    await feed.close()
    the_hub = hub_for(get_channel_layer())
    assert the_hub.markets == {} and the_hub.ticker_followers == set() and the_hub.channel is None


@with_database
async def test_a_client_whose_inbox_overflowed_resynchronises_once_it_catches_up(
    feeds, gold_buck, traders, monkeypatch
):
    from markets import events

    held = []
    monkeypatch.setattr(events, "publish_market_update", held.append)
    seller, _ = traders
    fast = await feeds()
    monkeypatch.setattr(consumers, "INBOX_SIZE", 1)
    socket = Stalling()
    slow = await feeds(app=socket)
    for feed in (slow, fast):
        await feed.subscribe(channel="book", market="GOLD-BUCK")
        assert (await feed.receive())["sequence"] == 0
    for price in (2_500, 2_600, 2_700):
        await place_async(seller, gold_buck, "sell", 100, price)

    socket.stall()  # the slow client stops reading: its first update waits for the socket, the second for the
    stream = hub_for(get_channel_layer()).markets["GOLD-BUCK"]  # first, in the inbox (of one), the third is lost
    for update in held:
        stream.add(update)
    assert [(await fast.receive())["sequence"] for _ in range(3)] == [1, 2, 3]
    socket.flow()

    assert [(await slow.receive())["sequence"] for _ in range(2)] == [1, 2]
    snapshot = await slow.receive()
    assert (snapshot["type"], snapshot["sequence"], len(snapshot["asks"])) == ("book.snapshot", 3, 3)
    for feed in (slow, fast):
        await feed.assert_quiet()


@with_database
async def test_the_hub_writes_an_update_to_every_idle_book_subscriber_itself(feeds, gold_buck, traders, monkeypatch):
    """No task per subscriber and update: the frame is in every socket when the hub's call returns."""
    from markets import events

    held = []
    monkeypatch.setattr(events, "publish_market_update", held.append)
    seller, _ = traders
    subscribers = [await feeds() for _ in range(3)]
    for feed in subscribers:
        await feed.subscribe(channel="book", market="GOLD-BUCK")
        assert (await feed.receive())["sequence"] == 0
    await place_async(seller, gold_buck, "sell", 100, 2_500)

    hub_for(get_channel_layer()).markets["GOLD-BUCK"].add(held[0])  # no await between this and the check
    assert [feed.communicator.output_queue.qsize() for feed in subscribers] == [1, 1, 1]
    for feed in subscribers:
        delta = await feed.receive()
        assert (delta["type"], delta["sequence"]) == ("book.delta", 1)


class DeafToCancellation:
    """An in-memory layer whose receive swallows its first cancellation and waits on, as channels_redis's list
    layer did inside redis-py's read (the hub then never stopped, and the follower that left was never answered)."""

    def __init__(self):
        self.layer = InMemoryChannelLayer()
        self.swallowed = 0

    def __getattr__(self, name):
        return getattr(self.layer, name)

    async def receive(self, channel):
        try:
            return await self.layer.receive(channel)
        except asyncio.CancelledError:
            self.swallowed += 1
            asyncio.current_task().uncancel()
            return await self.layer.receive(channel)


async def test_leaving_returns_even_if_the_layer_does_not_let_its_reader_stop(monkeypatch):
    monkeypatch.setattr(hub, "STOP_WAIT_SECONDS", 0.05)
    layer = DeafToCancellation()
    the_hub, follower = hub.Hub(layer), Recorder()
    await the_hub.follow_tickers(follower)
    await asyncio.sleep(0)  # the reader waits in receive
    reader = the_hub.tasks[0]

    await asyncio.wait_for(the_hub.leave_tickers(follower), timeout=2)
    assert layer.swallowed == 1 and not reader.done()  # the reader ran on, yet leaving was done
    assert the_hub.channel is None and the_hub.tasks == []
    assert layer.layer.groups.get("feed", {}) == {}  # out of the group, it hears nothing more
    reader.cancel()
