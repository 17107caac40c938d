"""The websocket feed against the served exchange: local books, private streams, resync and reconnect."""

import asyncio
import random
from decimal import Decimal

import pytest

from exchange_client import AsyncClient, Balance, Feed, FeedError, Fill, LocalBook, Order, Trade, errors

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
SYMBOL = "GOLD-BUCK"


async def read(feed: Feed, until, timeout: float = 10) -> list:
    """Events from the feed until one satisfies `until` (which is included)."""
    seen = []

    async def collect():
        async for event in feed:
            seen.append(event)
            if until(event):
                return

    await asyncio.wait_for(collect(), timeout)
    return seen


async def caught_up(feed: Feed, client: AsyncClient) -> None:
    """Wait until the local book has every change the REST book shows."""
    rest = await client.book(SYMBOL, depth=500)
    if feed.book(SYMBOL).sequence < rest.sequence:
        await read(feed, lambda e: isinstance(e, LocalBook) and e.synced and e.sequence >= rest.sequence)


async def random_orders(rng: random.Random, clients: list[AsyncClient], count: int) -> None:
    open_orders: list[tuple[AsyncClient, int]] = []
    for _ in range(count):
        client = rng.choice(clients)
        roll = rng.random()
        try:
            if roll < 0.15 and open_orders:
                owner, order_id = open_orders.pop(rng.randrange(len(open_orders)))
                await owner.cancel_order(order_id)
            elif roll < 0.3:
                await client.place_order(SYMBOL, "sell", type="market", quantity=f"0.{rng.randint(1, 9)}00")
            else:
                side = rng.choice(("buy", "sell"))
                price = Decimal(rng.randint(240, 260)) / 10
                order = await client.place_order(SYMBOL, side, quantity=f"0.{rng.randint(1, 9)}00", price=price)
                if order.is_open:
                    open_orders.append((client, order.id))
        except errors.OrderNotOpen:
            pass  # filled since


async def test_the_local_book_equals_the_rest_book_after_orders_and_a_gap(server_url, traders):
    ann, ben = traders
    rng = random.Random(7)
    async with AsyncClient(server_url, **ann.credentials()) as a, AsyncClient(server_url, **ben.credentials()) as b:
        feed = Feed(server_url)  # public streams need no key
        await feed.connect()
        await feed.subscribe("book", SYMBOL)
        await feed.subscribe("trades", SYMBOL)
        await read(feed, lambda e: isinstance(e, LocalBook))  # the first snapshot
        trades: list[Trade] = []
        reader = asyncio.create_task(read(feed, lambda e: trades.append(e) if isinstance(e, Trade) else False, 60))

        await random_orders(rng, [a, b], 30)
        feed.book(SYMBOL).sequence -= 1  # as if a delta had been lost: the next one does not follow on
        await random_orders(rng, [a, b], 30)
        await a.place_order(SYMBOL, "buy", quantity="0.500", price="23.00")  # whatever the dice did, both sides
        await b.place_order(SYMBOL, "sell", quantity="0.500", price="27.00")
        reader.cancel()
        await caught_up(feed, a)

        rest = await a.book(SYMBOL, depth=500)
        local = feed.book(SYMBOL)
        assert local.synced and feed.resyncs == 1
        assert local.snapshot() == rest and rest.bids and rest.asks
        rest_trades = await a.trades(SYMBOL, limit=500)
        assert [t.id for t in trades] == [t.id for t in reversed(rest_trades)] and len(trades) > 5
        await feed.close()


async def test_private_streams_bring_own_orders_fills_and_balances(server_url, traders):
    ann, ben = traders
    async with AsyncClient(server_url, **ann.credentials()) as a, AsyncClient(server_url, **ben.credentials()) as b:
        async with Feed(server_url, **ann.credentials()) as feed:
            await feed.connect()
            for channel in ("orders", "fills", "balances", "book"):
                await feed.subscribe(channel, SYMBOL)
            # The server answers in order: with the book's snapshot here, the private streams are joined too.
            await read(feed, lambda e: isinstance(e, LocalBook))
            order = await a.place_order(SYMBOL, "buy", quantity="1.000", price="25.00")
            await b.place_order(SYMBOL, "sell", type="market", quantity="0.400")
            events = await read(feed, lambda e: isinstance(e, Fill))
            events += await read(feed, lambda e: isinstance(e, Balance) and e.currency == "GOLD", timeout=3)
    [fill] = [e for e in events if isinstance(e, Fill)]
    assert (fill.order_id, fill.side, fill.price, fill.quantity, fill.liquidity) == (
        order.id, "buy", Decimal("25.00"), Decimal("0.400"), "maker")
    assert {e.status for e in events if isinstance(e, Order) and e.id == order.id} >= {"partially_filled"}
    assert Balance("GOLD", Decimal("100.400"), Decimal("0.000"), Decimal("100.400")) in events


async def test_an_error_frame_raises_and_the_feed_stays_usable(server_url, traders):
    async with Feed(server_url) as feed:  # no key: private streams are refused
        await feed.connect()
        await feed.subscribe("fills")
        with pytest.raises(FeedError) as caught:
            await read(feed, lambda e: True)
        assert caught.value.code == "not_authenticated"
        await feed.subscribe("book", SYMBOL)
        [book] = await read(feed, lambda e: isinstance(e, LocalBook))
        assert book.synced and book.market == SYMBOL


async def test_the_feed_reconnects_and_resubscribes(server_url, traders):
    ann, _ = traders
    async with AsyncClient(server_url, **ann.credentials()) as a, Feed(server_url, **ann.credentials()) as feed:
        await feed.connect()
        await feed.subscribe("orders")
        await feed.subscribe("book", SYMBOL)  # subscribed after orders: its snapshot means both are joined
        await read(feed, lambda e: isinstance(e, LocalBook))
        await feed._socket.close()  # the connection drops
        await read(feed, lambda e: isinstance(e, LocalBook))  # back, subscribed again, with a fresh snapshot
        order = await a.place_order(SYMBOL, "sell", quantity="1.000", price="26.00")
        await read(feed, lambda e: isinstance(e, Order) and e.id == order.id)
        await caught_up(feed, a)
        assert feed.reconnects == 2
        assert feed.book(SYMBOL).snapshot() == await a.book(SYMBOL, depth=500)
