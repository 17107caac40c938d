"""Orders per second of the place-order service on PostgreSQL, beside PostgreSQL's own row-locking ceiling.

    .venv/bin/python bench/place_orders.py [--seconds 5] [--workers 1,2,4,8] [--database bench]

(1) The ceiling: pgbench running what one settlement must at least do — lock one market row, lock two account
rows in key order, update both, insert one row, commit — with the same client counts.
(2) order_place with a mix of resting and crossing orders (about half trade) in one market and in eight markets,
each worker a separate process with its own connection. Every figure is printed with its ratio to (1).
Run on a quiet machine; the figures are only comparable within one run.
"""

import argparse
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def pg_args(database: str) -> list[str]:
    return ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", database]


def psql(database: str, sql: str) -> None:
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", *pg_args(database), "-c", sql], check=True, capture_output=True)


def ensure_database(database: str) -> None:
    exists = subprocess.run(
        ["psql", "-tA", *pg_args("postgres"), "-c", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    if not exists:
        psql("postgres", f'CREATE DATABASE "{database}"')


def pgbench_ceiling(database: str, clients: int, seconds: int) -> float:
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
    output = subprocess.run(
        ["pgbench", "-n", "-f", script.name, "-c", str(clients), "-j", str(clients), "-T", str(seconds),
         *pg_args(database)],
        check=True, capture_output=True, text=True,
    ).stdout
    os.unlink(script.name)
    return float(re.search(r"tps = ([0-9.]+)", output).group(1))


def setup_exchange(market_count: int, traders: int):
    """A fresh exchange: traders funded in every currency, `market_count` markets."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    from django.contrib.auth.models import User

    from ledger import services as ledger
    from markets import services as markets

    issuer = User.objects.create_user("issuer")
    quote = ledger.currency_create(issuer=issuer, code="QUOTE", name="Quote", decimals=2)
    bases = [ledger.currency_create(issuer=issuer, code=f"BASE{i}", name=f"Base {i}", decimals=2) for i in range(market_count)]
    users = [User.objects.create_user(f"trader{i}") for i in range(traders)]
    for currency in [quote, *bases]:
        ledger.currency_mint(issuer=issuer, currency=currency, amount=10**15)
        for user in users:
            ledger.transfer_create(sender=issuer, recipient=user, currency=currency, amount=10**12)
    market_ids = [markets.market_create(user=issuer, base=base, quote=quote).pk for base in bases]
    return [u.pk for u in users], market_ids


def worker(user_ids, market_ids, seconds, seed, results):
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.db import connections

    from exchange.errors import DomainError
    from markets.models import Market
    from markets.services import OrderRequest, order_place

    rng = random.Random(seed)
    users = list(User.objects.filter(pk__in=user_ids))
    ticks = {m.pk: (m.tick, m.lot) for m in Market.objects.filter(pk__in=market_ids)}
    latencies, trades, errors = [], 0, 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        market_id = rng.choice(market_ids)
        tick, lot = ticks[market_id]
        side = rng.choice(("buy", "sell"))
        # Prices straddle 100.00 so about half the orders cross the spread and trade.
        offset = rng.randint(-3, 3) * tick
        price = 10_000 + (offset if side == "buy" else -offset)
        request = OrderRequest(side=side, type="limit", quantity=lot * rng.randint(1, 5), price=price)
        started = time.perf_counter()
        try:
            order = order_place(user=rng.choice(users), market_id=market_id, request=request)
            trades += order.filled_quantity > 0
        except DomainError:
            errors += 1
        latencies.append(time.perf_counter() - started)
    results.put((latencies, trades, errors))
    connections.close_all()


def run_service(user_ids, market_ids, workers: int, seconds: int) -> dict:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("spawn")  # a forked connection pool would be shared
    results = context.Queue()
    processes = [
        context.Process(target=worker, args=(user_ids, market_ids, seconds, seed, results)) for seed in range(workers)
    ]
    for process in processes:
        process.start()
    gathered = [results.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = sorted(latency for lat, _, _ in gathered for latency in lat)
    orders = len(latencies)
    return {
        "orders_per_s": orders / seconds,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "traded_share": sum(t for _, t, _ in gathered) / max(orders, 1),
        "errors": sum(e for _, _, e in gathered),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--database", default="bench")
    args = parser.parse_args()
    worker_counts = [int(n) for n in args.workers.split(",")]

    ensure_database(args.database)
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.database}"
    os.environ.setdefault("DATABASE_POOL_SIZE", "2")
    os.environ["DJANGO_SETTINGS_MODULE"] = "exchange.settings.dev"
    os.environ["DEBUG"] = "false"
    import django

    django.setup()

    ceiling = {n: pgbench_ceiling(args.database, n, args.seconds) for n in worker_counts}
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; {args.seconds} s per figure")
    print(f"{'what':<34}{'workers':>8}{'orders/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'traded':>8}")
    for n in worker_counts:
        print(f"{'(1) pgbench settlement ceiling':<34}{n:>8}{ceiling[n]:>10.0f}{1:>8.2f}")
    for market_count in (1, 8):
        user_ids, market_ids = setup_exchange(market_count, traders=16)
        for n in worker_counts:
            figures = run_service(user_ids, market_ids, n, args.seconds)
            label = f"(2) order_place, {market_count} market{'s' * (market_count > 1)}"
            print(
                f"{label:<34}{n:>8}{figures['orders_per_s']:>10.0f}{figures['orders_per_s'] / ceiling[n]:>8.2f}"
                f"{figures['p50_ms']:>9.1f}{figures['p99_ms']:>9.1f}{figures['traded_share']:>8.0%}"
            )
    from django.core.management import call_command

    call_command("audit", verbosity=0, stdout=open(os.devnull, "w"))
    print("audit after the run: all invariants hold")


if __name__ == "__main__":
    main()
