"""Feed latency: from an order's commit to its book delta arriving at websocket subscribers, over the Redis layer.

One uvicorn process (or --servers N, each taking an equal share of the sockets) serves the feed. Subscribers to
one market's book are spread over a few client processes (multiprocessing, spawn), so the clients' own work does
not run on the server's event loop. This process places
resting limit orders at a fixed rate (each one a book delta) for a fixed time and notes, per book sequence, when
the publishing hook ran (right after the commit); each client notes when each delta arrived. Both use time.time()
on the same machine. Printed for 1, 100 and 1,000 subscribers: deltas delivered / expected (within DRAIN_SECONDS
of the last commit), p50 and p99 of commit -> receipt, the deltas per second delivered to all subscribers, the
CPU the server processes used meanwhile (1.00 = one core) and per frame delivered (us/frame: at 1,000 subscribers
nearly all of it is the fan-out), and the clients' CPU. Clients offer permessage-deflate, as browsers and the
websockets library do, unless --no-compression.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/feed_bench REDIS_URL=redis://127.0.0.1:6379/2 \
        .venv/bin/python bench/feed_latency.py [--rate 20] [--seconds 10] [--subscribers 1,100,1000] [--servers 1]
        [--no-compression] [--json]

It migrates that database and adds a fresh market to it for each row; point it at a scratch database.
Importable: main(argv) returns the rows (a bench runner may also run it as a subprocess and read its table, or
with --json the last line, "JSON {...}").
"""

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import queue
import random
import sys
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBER_COUNTS = (1, 100, 1000)
SUBSCRIBERS_PER_CLIENT = 250  # one client process per this many sockets, at most CLIENT_PROCESSES
CLIENT_PROCESSES = 4
CONNECTING_AT_ONCE = 25  # per client process: the server is not also being benchmarked on accepting sockets
READY_TIMEOUT = 180
ORDERS_PER_MAKER = 150  # the exchange caps open orders per user and market (200)
DRAIN_SECONDS = 10  # after the last commit: what has not arrived by then counts as not delivered


# --- the client processes: no Django here ----------------------------------------------------------------------
# Each socket is a bare asyncio protocol speaking the client side of RFC 6455 by hand (text, ping and close frames;
# permessage-deflate if offered): no task and no parser object per message, so the harness spends little of the
# machine's two cores (a general client library costs several times more per message than the server's send) and
# the figures are mostly the server's.

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """One final client frame (clients must mask what they send)."""
    mask = os.urandom(4)
    size = len(payload)
    length = bytes([0x80 | size]) if size < 126 else bytes([0x80 | 126]) + size.to_bytes(2, "big")
    return bytes([0x80 | opcode]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class BookSubscriber(asyncio.Protocol):
    """One websocket following one market's book: notes each delta's sequence and arrival time."""

    def __init__(self, symbol: str, port: int, compress: bool, arrivals: list, on_snapshot):
        self.port, self.compress, self.arrivals, self.on_snapshot = port, compress, arrivals, on_snapshot
        self.subscribe = json.dumps({"op": "subscribe", "channel": "book", "market": symbol}).encode()
        self.buffer = b""
        self.open = False  # the handshake is done
        self.inflate = None  # a zlib stream, if the server agreed to permessage-deflate
        self.newest = 0  # the last sequence this socket saw

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if self.compress else ""
        transport.write(f"GET /ws/v1 HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                        f"{offer}\r\n".encode())

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buffer += data
        if not self.open:
            head, end, rest = self.buffer.partition(b"\r\n\r\n")
            if not end:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                raise RuntimeError(f"the server refused the websocket: {head[:200]!r}")
            if b"permessage-deflate" in head.lower():
                self.inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            self.buffer, self.open = rest, True
            self.transport.write(masked_frame(TEXT, self.subscribe))
        while (frame := self._next_frame()) is not None:
            first, payload = frame
            opcode = first & 0x0F
            if opcode == TEXT:
                if first & 0x40:  # RSV1: compressed
                    payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
                self._message(json.loads(payload), now)
            elif opcode == PING:
                self.transport.write(masked_frame(PONG, payload))
            elif opcode == CLOSE:
                self.transport.close()

    def _next_frame(self) -> tuple[int, bytes] | None:
        """The next whole frame in the buffer (the server sends each message as one unmasked frame)."""
        buffer = self.buffer
        if len(buffer) < 2:
            return None
        size, start = buffer[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(buffer[2:4], "big"), 4
        elif size == 127:
            size, start = int.from_bytes(buffer[2:10], "big"), 10
        if len(buffer) < start + size:
            return None
        self.buffer = buffer[start + size:]
        return buffer[0], buffer[start:start + size]

    def _message(self, message: dict, now: float) -> None:
        if message["type"] == "book.delta":
            self.arrivals.append((message["sequence"], now))
            self.newest = message["sequence"]
        elif message["type"] == "book.snapshot":
            self.newest = message["sequence"]
            self.on_snapshot()


def client(port: int, symbol: str, sockets: int, compress: bool, last_sequence, stop, results) -> None:
    """Hold `sockets` book subscriptions; put ("ready", n) once all have their snapshot, then their arrivals."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    arrivals, cpu = asyncio.run(_client(port, symbol, sockets, compress, last_sequence, stop, results))
    results.put(("arrivals", (arrivals, cpu)))


async def _client(port, symbol, sockets, compress, last_sequence, stop, results) -> tuple[list, float]:
    """The arrivals, and the CPU seconds spent from "ready" to the end."""
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[int, float]] = []
    snapshots = [0]

    def on_snapshot():
        snapshots[0] += 1

    subscribers = []
    for index in range(sockets):
        subscriber = BookSubscriber(symbol, port, compress, arrivals, on_snapshot)
        await loop.create_connection(lambda s=subscriber: s, "127.0.0.1", port)
        subscribers.append(subscriber)
        while index + 1 - snapshots[0] >= CONNECTING_AT_ONCE:  # let the server take them in small groups
            await asyncio.sleep(0.01)
    while snapshots[0] < sockets:
        await asyncio.sleep(0.01)
    results.put(("ready", sockets))
    cpu = time.process_time()
    while not stop.is_set() and not (last_sequence.value and min(s.newest for s in subscribers) >= last_sequence.value):
        await asyncio.sleep(0.05)
    for subscriber in subscribers:
        subscriber.transport.close()
    return arrivals, time.process_time() - cpu


# --- this process: the server, the orders, the figures ---------------------------------------------------------


def setup_market(orders: int):
    """A fresh market and enough funded makers to rest `orders` orders (the exchange caps open orders per user)."""
    from markets import services as markets
    from tests.conftest import fund, make_currency, make_user

    tag = f"{random.randrange(36**4):04X}"[:4]
    issuer = make_user(f"bench-{tag}")
    base, quote = make_currency(issuer, f"B{tag}", decimals=3), make_currency(issuer, f"Q{tag}", decimals=2)
    market = markets.market_create(user=issuer, base=base, quote=quote)
    makers = [issuer] + [make_user(f"bench-{tag}-{n}") for n in range(orders // ORDERS_PER_MAKER)]
    for maker in makers:
        fund(maker, base, 10**9)
        fund(maker, quote, 10**11)
    return makers, market


def publish_deltas(makers, market, *, rate: float, seconds: float, committed: dict[int, float]) -> int:
    """Rest one order every 1/rate s for `seconds` (a new level or a bigger one); return the last book sequence."""
    from markets import services as markets
    from markets.services import OrderRequest

    rng = random.Random(market.pk)
    started = time.time()
    for index in range(int(rate * seconds)):
        time.sleep(max(0.0, started + index / rate - time.time()))
        side = rng.choice(["buy", "sell"])  # bids 1.00-2.00, asks 4.00-8.00 (in ticks): nothing crosses
        price = rng.randint(100, 200) * market.tick * (1 if side == "buy" else 4)
        request = OrderRequest(side=side, type="limit", quantity=market.lot, price=price)
        markets.order_place(user=makers[index // ORDERS_PER_MAKER], market_id=market.pk, request=request)
    return max(committed)


def measure(servers, subscribers: int, *, rate: float, seconds: float, compress: bool) -> dict:
    from markets import events

    makers, market = setup_market(int(rate * seconds))
    context = multiprocessing.get_context("spawn")
    last_sequence, stop, results = context.Value("q", 0), context.Event(), context.Queue()
    # At least one client process per server (each talks to one), never one without a socket.
    clients = min(subscribers, max(len(servers), min(CLIENT_PROCESSES, -(-subscribers // SUBSCRIBERS_PER_CLIENT))))
    shares = [subscribers // clients + (n < subscribers % clients) for n in range(clients)]
    processes = [
        context.Process(
            target=client, args=(servers[n % len(servers)].port, market.symbol, share, compress, last_sequence, stop,
                                 results), daemon=True,
        )
        for n, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    ready = 0
    deadline = time.time() + READY_TIMEOUT
    while ready < subscribers:
        kind, value = results.get(timeout=max(1.0, deadline - time.time()))
        ready += value if kind == "ready" else 0
    committed: dict[int, float] = {}
    publish = events.publish_market_update

    def timed_publish(payload):
        committed[payload["sequence"]] = time.time()
        publish(payload)

    events.publish_market_update = timed_publish
    try:
        started, server_cpu = time.time(), sum(common.process_cpu_seconds(server.process.pid) for server in servers)
        last = publish_deltas(makers, market, rate=rate, seconds=seconds, committed=committed)
        published = time.time() - started
        server_cpu = (sum(common.process_cpu_seconds(server.process.pid) for server in servers) - server_cpu) / published
    finally:
        events.publish_market_update = publish
    last_sequence.value = last
    arrivals, gathered, client_cpu = [], 0, 0.0
    deadline = time.time() + DRAIN_SECONDS
    while gathered < len(processes) and time.time() < deadline + 30:
        if time.time() > deadline:
            stop.set()  # clients still waiting for a delta that never came hand in what they have
        try:
            kind, value = results.get(timeout=0.2)
        except queue.Empty:
            continue
        if kind == "arrivals":
            arrivals.extend(value[0])
            client_cpu += value[1]
            gathered += 1
    ended = time.time()
    stop.set()
    for process in processes:
        process.join(10)
    latencies = sorted((at - committed[seq]) * 1000 for seq, at in arrivals if seq in committed)
    by_second: dict[int, list[float]] = {}  # does latency build up while publishing? (in the JSON only)
    for seq, at in arrivals:
        if seq in committed:
            by_second.setdefault(int(committed[seq] - started), []).append((at - committed[seq]) * 1000)
    in_time = [latency for latency in latencies if latency <= DRAIN_SECONDS * 1000]
    return {
        "subscribers": subscribers,
        "delivered": len(in_time),
        "expected": len(committed) * subscribers,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "deltas_per_s": len(in_time) / published,
        "server_cpu": server_cpu,  # cores the servers used while the deltas were published
        "server_us_per_frame": server_cpu / (len(in_time) / published) * 1e6 if in_time else float("nan"),
        "client_cpu": client_cpu / (ended - started),  # cores the clients used, from publishing to the end
        "p50_ms_by_second": [round(percentile(sorted(by_second[second]), 0.5), 1) for second in sorted(by_second)],
        "rate": rate,
        "seconds": seconds,
    }


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def table(rows: list[dict]) -> str:
    lines = [f"{'subscribers':>11} {'delivered/expected':>19} {'p50 ms':>8} {'p99 ms':>8} {'deltas/s':>9} "
             f"{'server CPU':>10} {'us/frame':>8} {'client CPU':>10}"]
    for row in rows:
        share = f"{row['delivered']}/{row['expected']}"
        lines.append(f"{row['subscribers']:>11} {share:>19} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
                     f"{row['deltas_per_s']:>9.0f} {row['server_cpu']:>10.0%} {row['server_us_per_frame']:>8.1f} "
                     f"{row['client_cpu']:>10.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20, help="book deltas published per second (default 20)")
    parser.add_argument("--seconds", type=float, default=10, help="how long to publish, per row (default 10)")
    parser.add_argument("--subscribers", default=",".join(map(str, SUBSCRIBER_COUNTS)), help="e.g. 1,100,1000")
    parser.add_argument("--servers", type=int, default=1, help="uvicorn processes sharing the subscribers (default 1)")
    parser.add_argument("--no-compression", dest="compress", action="store_false",
                        help="clients do not offer permessage-deflate (browsers and the websockets library do)")
    parser.add_argument("--json", action="store_true", help='end with one line "JSON {...}" for a bench runner')
    args = parser.parse_args(argv)
    counts = [int(count) for count in args.subscribers.split(",")]

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings.dev")
    os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every SQL query in memory
    import django

    django.setup()
    from django.core.management import call_command

    from tests.servers import asgi_servers

    call_command("migrate", verbosity=0)
    env = {key: os.environ[key] for key in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG")}
    rows = []
    with asgi_servers(args.servers, env=env) as servers:
        for count in counts:
            rows.append(measure(servers, count, rate=args.rate, seconds=args.seconds, compress=args.compress))
    print(f"feed latency: {args.servers} uvicorn process(es), {args.rate:g} book deltas/s for {args.seconds:g} s "
          f"per row, "
          f"{'clients offer permessage-deflate (the server declines)' if args.compress else 'no compression offered'}, "
          f"load {' '.join(f'{load:.2f}' for load in os.getloadavg())}, {os.cpu_count()} cores")
    print(table(rows), flush=True)
    if args.json:
        print("JSON " + json.dumps({"feed": rows}), flush=True)
    return rows


if __name__ == "__main__":
    main()
