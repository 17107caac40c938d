"""Feed latency: from an order's commit to its book delta arriving at websocket subscribers, over the Redis layer.

Starts one uvicorn process, connects N websocket subscribers to one market's book, places orders from this process
(so the publisher is not the subscribers' server) and records, per book sequence, the moment the publishing hook
ran (right after the commit) and the moment each subscriber received the delta. Prints p50/p99 latency and the
deltas per second delivered, for 1, 100 and 1,000 subscribers.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/rt_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/feed_latency.py [ORDERS]

It migrates that database and adds a fresh market to it on each run; point it at a scratch database.
"""

import asyncio
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings.dev")

import django  # noqa: E402

django.setup()

import websockets  # noqa: E402
from django.core.management import call_command  # noqa: E402

from markets import events  # noqa: E402
from markets import services as markets  # noqa: E402
from markets.services import OrderRequest  # noqa: E402
from tests.conftest import fund, make_currency, make_user  # noqa: E402
from tests.servers import asgi_servers  # noqa: E402

SUBSCRIBER_COUNTS = (1, 100, 1000)


def setup_market():
    tag = f"{random.randrange(36**4):04X}"[:4]
    issuer = make_user(f"bench-{tag}")
    base, quote = make_currency(issuer, f"B{tag}", decimals=3), make_currency(issuer, f"Q{tag}", decimals=2)
    market = markets.market_create(user=issuer, base=base, quote=quote)
    fund(issuer, base, 10**9)
    fund(issuer, quote, 10**11)
    return issuer, market


async def subscriber(port, symbol, arrivals, ready):
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws/v1", max_queue=None) as socket:
        await socket.send(json.dumps({"op": "subscribe", "channel": "book", "market": symbol}))
        async for raw in socket:
            message = json.loads(raw)
            if message["type"] == "book.snapshot":
                ready.release()
            elif message["type"] == "book.delta":
                arrivals.append((message["sequence"], time.time()))


async def run(port, subscribers: int, orders: int, issuer, market) -> dict:
    arrivals: list[tuple[int, float]] = []
    ready = asyncio.Semaphore(0)
    tasks = [asyncio.create_task(subscriber(port, market.symbol, arrivals, ready)) for _ in range(subscribers)]
    for _ in range(subscribers):
        await asyncio.wait_for(ready.acquire(), 120)
    committed: dict[int, float] = {}
    publish = events.publish_market_update

    def timed_publish(payload):
        committed[payload["sequence"]] = time.time()
        publish(payload)

    events.publish_market_update = timed_publish
    rng = random.Random(subscribers)
    started = time.time()
    try:
        for _ in range(orders):  # resting orders on both sides, a new level or a bigger one each time
            side = rng.choice(["buy", "sell"])
            price = rng.randint(100, 200) * market.tick * (1 if side == "buy" else 2)
            request = OrderRequest(side=side, type="limit", quantity=market.lot, price=price)
            await asyncio.to_thread(markets.order_place, user=issuer, market_id=market.pk, request=request)
        deadline = time.time() + 30
        while len(arrivals) < orders * subscribers and time.time() < deadline:
            await asyncio.sleep(0.05)
    finally:
        events.publish_market_update = publish
        for task in tasks:
            task.cancel()
    latencies = sorted((at - committed[seq]) * 1000 for seq, at in arrivals if seq in committed)
    last = max((at for _, at in arrivals), default=started)
    return {
        "subscribers": subscribers,
        "delivered": len(arrivals),
        "expected": orders * subscribers,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "deltas_per_s": len(arrivals) / (last - started),
    }


def main(orders: int) -> None:
    call_command("migrate", verbosity=0)
    rows = []
    env = {key: os.environ[key] for key in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    with asgi_servers(1, env=env) as [server]:
        port = server.port
        for count in SUBSCRIBER_COUNTS:
            issuer, market = setup_market()
            rows.append(asyncio.run(run(port, count, orders, issuer, market)))
    print(f"{'subscribers':>11} {'delivered':>17} {'p50 ms':>8} {'p99 ms':>8} {'deltas/s':>9}")
    for row in rows:
        print(f"{row['subscribers']:>11} {row['delivered']:>8}/{row['expected']:<8} {row['p50_ms']:>8.1f} "
              f"{row['p99_ms']:>8.1f} {row['deltas_per_s']:>9.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
