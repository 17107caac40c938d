"""End to end: two uvicorn processes serve the feed; two other processes trade; the clients' books stay exact."""

import asyncio
import json
import os
import sys
import time

import pytest
import websockets
from django.conf import settings
from django.db import connection

from api.keys import key_create
from markets import selectors
from markets.models import Market, Trade
from tests.conftest import fund, make_user
from tests.servers import ROOT, asgi_servers, database_url_for

OPERATIONS = 1000
TRADERS = 2  # processes placing orders at the same time, so updates are published from two places


class LocalBook:
    """What a client keeps: the book from the snapshot plus every delta, and the trades it was told of."""

    def __init__(self):
        self.sequence = None
        self.levels = {"buy": {}, "sell": {}}
        self.trade_ids: list[int] = []
        self.snapshots = 0

    def apply(self, message: dict) -> None:
        if message["type"] == "book.snapshot":
            self.snapshots += 1
            self.sequence = message["sequence"]
            self.levels = {"buy": dict(message["bids"]), "sell": dict(message["asks"])}
        elif message["type"] == "book.delta":
            assert message["sequence"] == self.sequence + 1, (message["sequence"], self.sequence)
            self.sequence = message["sequence"]
            for change in message["changes"]:
                side = self.levels[change["side"]]
                if int(change["quantity"].replace(".", "")) == 0:
                    side.pop(change["price"], None)
                else:
                    side[change["price"]] = change["quantity"]
        elif message["type"] == "trade":
            self.trade_ids.append(message["id"])

    def bids(self):
        return sorted(self.levels["buy"].items(), key=lambda level: -float(level[0]))

    def asks(self):
        return sorted(self.levels["sell"].items(), key=lambda level: float(level[0]))


async def follow(port: int, book: LocalBook, ready: asyncio.Event, done: asyncio.Event) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/v1") as socket:
        for channel in ("book", "trades"):
            await socket.send(json.dumps({"op": "subscribe", "channel": channel, "market": "GOLD-BUCK"}))
        subscribed = 0
        while not done.is_set():
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), 0.2))  # to notice `done`
            except TimeoutError:
                continue
            assert message["type"] != "error", message
            subscribed += message["type"] == "subscribed"
            book.apply(message)
            if subscribed == 2:
                ready.set()


@pytest.mark.e2e
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_books_kept_from_two_servers_equal_the_database_after_1000_operations(gold_buck):
    people = [make_user(f"e2e{i}") for i in range(4)]
    for person in people:
        fund(person, gold_buck.base, 10_000_000)
        fund(person, gold_buck.quote, 100_000_000)
    keys = [key_create(user=person, name="e2e", scopes=["read", "trade"]) for person in people]
    credentials = ",".join(f"{key.key_id}:{secret}" for key, secret in keys)
    env = {
        "DATABASE_URL": database_url_for(connection.settings_dict["NAME"]),
        "REDIS_URL": os.environ["REDIS_URL"],
        "SECRET_KEY": settings.SECRET_KEY,  # the servers derive the keys' secrets from it
        "API_RATE_KEY": "100000/min",
        "API_RATE_IP": "100000/min",
    }
    books = [LocalBook(), LocalBook()]

    async def scenario(ports):
        ready = [asyncio.Event(), asyncio.Event()]
        done = asyncio.Event()
        clients = [asyncio.create_task(follow(p, b, r, done)) for p, b, r in zip(ports, books, ready, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(event.wait() for event in ready)), 20)
        traders = [
            await asyncio.create_subprocess_exec(  # orders go in through the second server, over HTTP
                sys.executable, "-m", "tests.realtime.e2e_trader", f"http://127.0.0.1:{ports[1]}", "GOLD-BUCK",
                credentials, str(OPERATIONS // TRADERS), str(seed), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            )
            for seed in range(TRADERS)
        ]
        trading = time.monotonic()
        outputs = [json.loads((await trader.communicate())[0]) for trader in traders]
        trading = time.monotonic() - trading
        assert all(trader.returncode == 0 for trader in traders)
        final = await asyncio.to_thread(lambda: Market.objects.get(symbol="GOLD-BUCK").sequence)
        deadline = time.monotonic() + 15
        while any(book.sequence != final for book in books) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # anything still travelling would now show up as a duplicate
        done.set()
        await asyncio.gather(*clients)
        return outputs, trading

    started = time.monotonic()
    with asgi_servers(2, env=env) as servers:
        outputs, trading = asyncio.run(scenario([server.port for server in servers]))

    assert sum(o["placed"] + o["cancelled"] + o["refused"] for o in outputs) == OPERATIONS
    assert sum(o["placed"] for o in outputs) > OPERATIONS // 2
    market = Market.objects.get(symbol="GOLD-BUCK")
    truth = selectors.book_snapshot(market=market, depth=selectors.MAX_DEPTH)
    bids = [(market.quote.format(p), market.base.format(q)) for p, q in truth.bids]
    asks = [(market.quote.format(p), market.base.format(q)) for p, q in truth.asks]
    trade_ids = list(Trade.objects.filter(market=market).order_by("id").values_list("id", flat=True))
    assert len(trade_ids) > 100 and (bids or asks)
    for book in books:
        assert book.sequence == truth.sequence
        assert (book.bids(), book.asks()) == (bids, asks)
        assert book.trade_ids == trade_ids  # every trade, once, in order
    print(f"\ne2e: {OPERATIONS} operations, {len(trade_ids)} trades, sequence {truth.sequence}, "
          f"snapshots per client {[b.snapshots for b in books]}, trading {trading:.1f} s, all {time.monotonic() - started:.1f} s")
