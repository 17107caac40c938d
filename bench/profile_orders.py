"""Where one placed order's time goes: milliseconds per order (wall, and the CPU of this process and of its
PostgreSQL backend, which must run on this machine), SQL statements and round trips per order, and the top costs by
cProfile (cumulative, this project's code and the libraries it calls).

    .venv/bin/python bench/profile_orders.py [--orders 2000] [--batch N] [--root PATH] [--database NAME]

One process, one market, the same order mix as bench/place_orders.py (about half trade), on PostgreSQL; with
`--batch N`, N orders at a time in one transaction, spread over 8 markets (markets/batch.py, as an order writer
places them).
`--root` imports the exchange from another checkout (e.g. a `git worktree` of an older commit), so two versions
can be profiled side by side in one run:

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/profile_orders.py --root /tmp/before --database profile_before
    .venv/bin/python bench/profile_orders.py --database profile_after
"""

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--root", default=str(HERE.parent), help="the checkout whose code is profiled")
    parser.add_argument("--database", default="bench_profile")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative", help="cProfile order: cumulative, tottime, ...")
    parser.add_argument("--no-cprofile", action="store_true", help="time only (e.g. to run under py-spy)")
    parser.add_argument(
        "--batch", type=int, default=0, help="place orders this many at a time in 8 markets, as an order writer does"
    )
    args = parser.parse_args()

    sys.path.insert(0, str(HERE))
    import common  # bench helpers; they import nothing of the exchange

    sys.path.insert(0, args.root)
    ids = common.fresh_exchange(args.database, market_count=8 if args.batch else 1, traders=16)

    from django.db import connection

    place, per_call = common.placer(args.batch, ids, random.Random(1)), args.batch or 1

    import psycopg

    sql = {"executes": 0, "statements": 0, "pipelined": 0, "pipelines": 0, "commits": 0}

    def count_sql(execute, statement, params, many, context):
        # One execute may send several statements as one string (exchange/db.run_statements); older checkouts sent
        # them as several executes in one psycopg pipeline.
        sql["executes"] += 1
        # Not the transaction's BEGIN or COMMIT (sent along with the first and last statements, or on their own)
        along = statement.startswith("BEGIN\n;") + statement.endswith(";\nCOMMIT")
        sql["statements"] += statement.count(";\n") + 1 - along
        sql["pipelined"] += bool(context["connection"].connection._pipeline)
        return execute(statement, params, many, context)

    real_pipeline = psycopg.Connection.pipeline

    def pipeline(self):
        sql["pipelines"] += 1
        return real_pipeline(self)

    psycopg.Connection.pipeline = pipeline
    real_commit = psycopg.Connection.commit

    def commit(self):  # a COMMIT of its own (psycopg sends none when the transaction has ended already)
        sql["commits"] += self.pgconn.transaction_status != psycopg.pq.TransactionStatus.IDLE
        return real_commit(self)

    psycopg.Connection.commit = commit

    for _ in range(200 // per_call + 5):  # warm up: imports, plans, a book to trade against
        place()
    sql["commits"] = 0
    with connection.execute_wrapper(count_sql), common.timed(common.backend_pid()) as spent:
        for _ in range(args.orders // per_call):
            place()
    elapsed, cpu, backend_cpu = spent["wall"], spent["cpu"], spent["backend"]
    n = args.orders // per_call * per_call
    round_trips = sql["executes"] - sql["pipelined"] + sql["pipelines"] + sql["commits"]
    print(f"code: {args.root}; load average {os.getloadavg()[0]:.2f}")
    print(
        f"{n} orders: {n / elapsed:.0f} orders/s, {elapsed / n * 1000:.2f} ms per order, of which this process's CPU "
        f"{cpu / n * 1000:.2f} ms and its PostgreSQL backend's {backend_cpu / n * 1000:.2f} ms; per order "
        f"{sql['statements'] / n:.2f} SQL statements in {round_trips / n:.2f} round trips (a COMMIT sent alone counted; "
        "not a BEGIN psycopg sends alone, as before dd09a5f)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0), left(statement, 90) "
            "FROM pg_prepared_statements WHERE name LIKE 'exchange\\_%%' GROUP BY ROLLUP (statement) "
            "ORDER BY statement IS NOT NULL, 2 DESC"
        )
        (generic, custom, _), *by_statement = cursor.fetchall()
    print(f"prepared statements' runs on a generic plan {generic}, planned anew (custom plan) {custom}")
    for generic, custom, statement in by_statement:
        if custom > generic:
            print(f"  {custom} custom, {generic} generic: {statement}")
    if args.no_cprofile:
        return
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(n // per_call):
        place()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats(args.sort).print_stats(args.top)
    print(f"cProfile, {n} more orders, by cumulative time (cProfile itself slows Python about twofold):")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
