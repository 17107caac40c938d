"""What the benchmarks share: PostgreSQL administration, the pgbench ceiling, a funded exchange, the place-order
load (one process per worker), a uvicorn server with N worker processes, percentiles and machine state.

Nothing here imports Django at module level: the orchestrator (run_all.py) and the HTTP load generators stay
free of it, and each benchmark sets Django up once it knows its database.
"""

import json
import multiprocessing
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", "5432", "postgres"

# What one settlement must at least do: lock the market row, lock two accounts in key order, update both,
# insert one row, commit.
PGBENCH_SCRIPT = """
\\set a random(1, 500)
\\set b random(501, 1000)
BEGIN;
SELECT id FROM bench_market WHERE id = 1 FOR UPDATE;
SELECT id FROM bench_account WHERE id IN (:a, :b) ORDER BY id FOR UPDATE;
UPDATE bench_account SET balance = balance - 1 WHERE id = :a;
UPDATE bench_account SET balance = balance + 1 WHERE id = :b;
INSERT INTO bench_journal (amount, created_at) VALUES (1, now());
END;
"""


# --- PostgreSQL -------------------------------------------------------------------------------------------------


def pg_args(database: str) -> list[str]:
    return ["-h", PG_HOST, "-p", PG_PORT, "-U", PG_USER, database]


def database_url(database: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def psql(database: str, sql: str) -> str:
    """Run SQL with psql (stops at the first error); return what it printed, unaligned."""
    done = subprocess.run(
        ["psql", "-qtA", "-v", "ON_ERROR_STOP=1", *pg_args(database), "-c", sql], capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"psql on {database} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def database_recreate(database: str) -> None:
    """Drop (ending its sessions) and create an empty database: every benchmark starts from the same state."""
    psql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{database}"')


def postgres_version() -> str:
    return psql("postgres", "SHOW server_version")


def pgbench_ceiling(database: str, clients: int, seconds: float) -> dict:
    """Transactions per second of PGBENCH_SCRIPT with `clients` connections (one pgbench thread each), and the
    machine's CPU milliseconds per transaction: {"tps", "cpu_ms"}."""
    psql(database, """
        DROP TABLE IF EXISTS bench_market, bench_account, bench_journal;
        CREATE TABLE bench_market (id bigint PRIMARY KEY, sequence bigint NOT NULL DEFAULT 0);
        CREATE TABLE bench_account (id bigint PRIMARY KEY, balance bigint NOT NULL);
        CREATE TABLE bench_journal (id bigserial PRIMARY KEY, amount bigint NOT NULL, created_at timestamptz NOT NULL);
        INSERT INTO bench_market VALUES (1, 0);
        INSERT INTO bench_account SELECT g, 1000000000 FROM generate_series(1, 1000) g;
    """)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(PGBENCH_SCRIPT)
    duration = max(1, round(seconds))
    try:
        cpu_before = machine_cpu_seconds()
        output = subprocess.run(
            ["pgbench", "-n", "-f", script.name, "-c", str(clients), "-j", str(clients), "-T", str(duration),
             *pg_args(database)],
            check=True, capture_output=True, text=True,
        ).stdout
        cpu = machine_cpu_seconds() - cpu_before
    finally:
        os.unlink(script.name)
    tps = float(re.search(r"tps = ([0-9.]+)", output).group(1))
    return {"tps": tps, "cpu_ms": cpu * 1000 / max(tps * duration, 1)}


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy so far, all cores (Linux /proc/stat: all but idle and iowait).
    Per operation, it tells what each costs the machine, client, server and database together."""
    with open("/proc/stat") as stat:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


# --- Django -----------------------------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of local process `pid` so far (Linux /proc): a server, a writer, a database backend."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def timed(backend: int):
    """Over the block: wall seconds, this process's CPU seconds and those of PostgreSQL backend `backend` (pid), in
    the dict yielded ("wall", "cpu", "backend"), filled in when the block ends."""
    figures: dict[str, float] = {}
    started, cpu, backend_cpu = time.perf_counter(), time.process_time(), process_cpu_seconds(backend)
    yield figures
    figures.update(wall=time.perf_counter() - started, cpu=time.process_time() - cpu,
                   backend=process_cpu_seconds(backend) - backend_cpu)


def django_setup(database: str, *, pool_size: int = 2) -> None:
    """Point this process (and the worker processes it spawns later) at `database`, then set Django up."""
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")  # the order writers and the feed need Redis
    os.environ.setdefault("DATABASE_POOL_SIZE", str(pool_size))
    os.environ["DJANGO_SETTINGS_MODULE"] = "exchange.settings.dev"
    os.environ["DEBUG"] = "false"  # DEBUG keeps every SQL statement in memory
    os.environ.setdefault("API_RATE_KEY", "10000000/min")
    os.environ.setdefault("API_RATE_IP", "10000000/min")
    import django

    django.setup()


TRADER = "trader{}"  # the username of setup_exchange's i-th trader
HISTORIANS = ("historian_a", "historian_b")  # the two sides of every seeded past trade
LAST_DAY_TRADES = 10_000  # per market: the day of trading every benchmark's exchange has behind it


def setup_exchange(*, market_count: int, traders: int, history: bool = True) -> dict:
    """On a migrated, empty database: an issuer, one quote and `market_count` base currencies (2 decimals each),
    `market_count` markets BASEi-QUOTE, `traders` and two HISTORIANS funded with 10^12 of every currency; with
    `history`, a last day of LAST_DAY_TRADES past trades per market and fresh statistics (last_day()).

    Returns the ids: {"issuer", "quote", "bases", "markets", "traders", "historians"}.
    """
    from django.contrib.auth.models import User

    from ledger import services as ledger
    from markets import services as markets

    issuer = User.objects.create_user("issuer")
    quote = ledger.currency_create(issuer=issuer, code="QUOTE", name="Quote", decimals=2)
    bases = [
        ledger.currency_create(issuer=issuer, code=f"BASE{i}", name=f"Base {i}", decimals=2) for i in range(market_count)
    ]
    users = [User.objects.create_user(TRADER.format(i)) for i in range(traders)]
    historians = [User.objects.create_user(name) for name in HISTORIANS]
    for currency in [quote, *bases]:
        ledger.currency_mint(issuer=issuer, currency=currency, amount=10**15)
        for user in users + historians:
            ledger.transfer_create(sender=issuer, recipient=user, currency=currency, amount=10**12)
    market_ids = [markets.market_create(user=issuer, base=base, quote=quote).pk for base in bases]
    ids = {
        "issuer": issuer.pk,
        "quote": quote.pk,
        "bases": [b.pk for b in bases],
        "markets": market_ids,
        "traders": [u.pk for u in users],
        "historians": [u.pk for u in historians],
    }
    if history:
        last_day(ids, trades=LAST_DAY_TRADES * market_count)
    return ids


def fresh_exchange(database: str, *, market_count: int, traders: int, history: bool = True) -> dict:
    """Drop and create `database`, point Django at it, migrate, and set up the exchange (setup_exchange); its ids."""
    database_recreate(database)
    django_setup(database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return setup_exchange(market_count=market_count, traders=traders, history=history)


def exchange_ids() -> dict:
    """The traders' and markets' ids of the exchange setup_exchange made in this process's database, in the same
    order (for a process that measures an exchange another one set up)."""
    from django.contrib.auth.models import User

    from markets.models import Market

    traders = User.objects.filter(username__startswith=TRADER.format("")).order_by("pk").values_list("pk", flat=True)
    return {"traders": list(traders), "markets": list(Market.objects.order_by("pk").values_list("pk", flat=True))}


def last_day(ids: dict, *, trades: int) -> None:
    """`trades` past trades between the HISTORIANS over the last day, taking turns over the markets, their candles,
    and VACUUM ANALYZE: the state of an exchange that has been running, as pgbench measures on initialised and
    vacuumed tables. From empty tables instead, each connection's prepared statements get plans made while the
    tables held a few rows — whole-table scans — and keep them as the tables grow, until autovacuum's ANALYZE
    (a minute or more later) has them replanned: a cold start, not the exchange."""
    from datetime import timedelta

    from django.utils import timezone

    import seed

    now = timezone.now().replace(second=0, microsecond=0)
    historian_a, historian_b = ids["historians"]
    seed.past_trades(market_ids=ids["markets"], user_a=historian_a, user_b=historian_b, count=trades,
                     start=now - timedelta(days=1), end=now - timedelta(minutes=2))
    seed.candles(market_ids=ids["markets"])
    seed.vacuum_analyze()


def audit() -> tuple[bool, float, str]:
    """Run `manage.py audit` in this process: (all invariants hold, seconds it took, its output)."""
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = io.StringIO()
    started = time.perf_counter()
    try:
        call_command("audit", stdout=out)
        ok = True
    except CommandError:
        ok = False
    return ok, time.perf_counter() - started, out.getvalue()


# --- the place-order load ---------------------------------------------------------------------------------------


def order_mix(rng: random.Random, tick: int, lot: int) -> tuple[str, int, int]:
    """(side, price, quantity): prices straddle 100.00 by up to three ticks, so about half the orders trade."""
    side = rng.choice(("buy", "sell"))
    offset = rng.randint(-3, 3) * tick
    price = 10_000 + (offset if side == "buy" else -offset)
    return side, price, lot * rng.randint(1, 5)


def limit_order(rng: random.Random, market):
    """An OrderRequest of the mix (order_mix) in `market`."""
    from markets.services import OrderRequest

    side, price, quantity = order_mix(rng, market.tick, market.lot)
    return OrderRequest(side=side, type="limit", quantity=quantity, price=price)


def placer(batch: int, ids: dict, rng: random.Random):
    """What profile_orders.py and code_ab.py time, on the exchange of setup_exchange's `ids`: a function that places
    one order of the mix by a random trader with order_place in the first market (`batch` 0), or `batch` orders in
    one transaction spread over the markets, as an order writer does (markets/batch.py); it returns how many it
    placed."""
    from django.contrib.auth.models import User

    from exchange.errors import DomainError
    from markets.batch import Placement, orders_place_batches
    from markets.models import Market
    from markets.services import order_place

    users = list(User.objects.filter(pk__in=ids["traders"]))
    markets = list(Market.objects.filter(pk__in=ids["markets"]).order_by("pk"))

    def place_one() -> int:
        try:
            order_place(user=rng.choice(users), market_id=markets[0].pk, request=limit_order(rng, markets[0]))
        except DomainError:
            pass
        return 1

    def place_batch() -> int:
        batches = {market.pk: [] for market in markets}
        for index in range(batch):
            market = markets[index % len(markets)]
            batches[market.pk].append(Placement(user_id=rng.choice(users).pk, request=limit_order(rng, market)))
        orders_place_batches(batches)
        return batch

    return place_batch if batch else place_one


def backend_pid() -> int:
    """The PostgreSQL backend of this thread's connection (its CPU: process_cpu_seconds)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [(pid,)] = cursor.fetchall()
    return pid


def service_worker(user_ids, market_ids, seconds, seed, start, results, via_writers=False):
    """One worker process: set up, wait at the `start` barrier for the others, then order_place (or, with
    `via_writers`, order_submit to the markets' writers) in a loop for `seconds`; put (latencies, traded, errors)
    on `results`."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connections

    from markets.models import Market
    from markets.services import order_place
    from markets.writer import order_submit

    place = order_submit if via_writers else order_place
    rng = random.Random(seed)
    users = list(User.objects.filter(pk__in=user_ids))
    markets = Market.objects.in_bulk(market_ids)
    start.wait()
    results.put(place_for(seconds, place, rng, users, [markets[pk] for pk in market_ids]))
    connections.close_all()


def place_for(seconds: float, place, rng: random.Random, users: list, markets: list) -> tuple[list[float], int, int]:
    """Place orders of the mix with `place` (order_place or order_submit) for `seconds`, each by a random user in a
    random market; (each order's latency in seconds, how many traded, how many were refused)."""
    from exchange.errors import DomainError

    latencies, trades, errors = [], 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        market = rng.choice(markets)
        request = limit_order(rng, market)
        started = time.perf_counter()
        try:
            order = place(user=rng.choice(users), market_id=market.pk, request=request)
            trades += order.filled_quantity > 0
        except DomainError:
            errors += 1
        latencies.append(time.perf_counter() - started)
    return latencies, trades, errors


def run_processes(processes: list, results, while_running=None) -> list:
    """Start the processes, call `while_running` (if given), take one result from each off `results` (in the order
    they finish), wait for them."""
    for process in processes:
        process.start()
    if while_running is not None:
        while_running()
    gathered = [results.get() for _ in processes]
    for process in processes:
        process.join()
    return gathered


def run_service(user_ids, market_ids, workers: int, seconds: float, *, seed: int = 0, via_writers=False) -> dict:
    """order_place (or order_submit, `via_writers`) from `workers` processes at once (each its own connection);
    orders/s, p50/p99 ms, traded share, and the machine's CPU milliseconds per order."""
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("spawn")  # a forked connection pool would be shared
    results, start = context.Queue(), context.Barrier(workers + 1)  # and this process, to time the machine's CPU
    processes = [
        context.Process(
            target=service_worker, args=(user_ids, market_ids, seconds, seed * 100 + n, start, results, via_writers)
        )
        for n in range(workers)
    ]
    cpu = 0.0

    def time_the_machine() -> None:
        nonlocal cpu
        start.wait(120)
        cpu_before = machine_cpu_seconds()
        time.sleep(seconds)
        cpu = machine_cpu_seconds() - cpu_before

    gathered = run_processes(processes, results, time_the_machine)
    latencies = sorted(latency for lat, _, _ in gathered for latency in lat)
    orders = len(latencies)
    return {
        "orders_per_s": orders / seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "traded": sum(t for _, t, _ in gathered) / max(orders, 1),
        "errors": sum(e for _, _, e in gathered),
        "orders": orders,
        "cpu_ms": cpu * 1000 / max(orders, 1),
    }


class OrderWriters:
    """`count` order writer processes (manage.py run_order_writer), each serving its share of the markets; entered
    once every market is marked as served."""

    def __init__(self, count: int, market_ids: list[int], *, root: Path = ROOT):
        self.count, self.market_ids, self.root, self.processes = count, market_ids, root, []

    def __enter__(self) -> "OrderWriters":
        import redis
        from django.conf import settings

        from markets.writer import alive_key

        client = redis.Redis.from_url(settings.ORDER_WRITER_REDIS_URL)
        client.delete(*(alive_key(market_id) for market_id in self.market_ids))
        env = {**os.environ, "PYTHONWARNINGS": "ignore::UserWarning"}
        for shard in range(self.count):
            command = [sys.executable, "manage.py", "run_order_writer", "--shard", f"{shard}/{self.count}"]
            self.processes.append(subprocess.Popen(command, cwd=self.root, env=env, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not all(client.exists(alive_key(market_id)) for market_id in self.market_ids):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                self.__exit__()
                raise RuntimeError("the order writers did not start")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(30)


# --- an ASGI server with N worker processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Uvicorn:
    """uvicorn serving the exchange with `workers` processes (tests/servers.py's AsgiServer runs exactly one)."""

    def __init__(self, *, workers: int, env: dict[str, str]):
        self.workers, self.port = workers, free_port()
        # Whitenoise warns in every worker that there is no collected static directory: not news here.
        self.env = {**os.environ, "PYTHONWARNINGS": "ignore::UserWarning", **env}
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Uvicorn":
        command = [sys.executable, "-m", "uvicorn", "exchange.asgi:application", "--lifespan", "off",
                   "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log",
                   "--workers", str(self.workers), "--ws", "websockets-sansio",
                   "--ws-per-message-deflate", "false"]  # as `make run` serves
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        self._wait_until_serving()
        return self

    def _wait_until_serving(self, timeout: float = 60) -> None:
        """Every worker answers: ask /api/v1/time until it has answered a few times in a row."""
        import logging

        import httpx

        logging.getLogger("httpx").setLevel(logging.WARNING)
        deadline, answered = time.monotonic() + timeout, 0
        while answered < 4 * self.workers:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"uvicorn on port {self.port} did not answer in {timeout} s")
            try:
                answered += httpx.get(f"{self.url}/api/v1/time", timeout=5).status_code == 200
            except httpx.TransportError:
                answered = 0
                time.sleep(0.2)

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- figures ----------------------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


def machine_state() -> dict:
    load = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "load": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "postgres": postgres_version(),
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def emit_json(result) -> None:
    """The last line a benchmark prints under --json: what run_all.py reads."""
    print("JSON " + json.dumps(result), flush=True)


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
