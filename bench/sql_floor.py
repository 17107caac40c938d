"""What the order path's SQL costs without the Python that makes it: how fast a faster client (a compiled core,
say) could place orders with the same statements and round trips, against pgbench's ceiling.

    .venv/bin/python bench/sql_floor.py [--orders 3000] [--batch N] [--seconds 5] [--database bench_floor]

One process, the order mix and exchange of profile_orders.py: order_place places `--orders` orders in one market
(after 200 to warm up), or with `--batch N` an order writer's batches of N orders do in 8 markets; every query
string each transaction sent is recorded. Those strings are then
replayed with bare psycopg (a few µs of Python per round trip), order by order, on copies of the database made
before the first order (CREATE DATABASE ... TEMPLATE), so every statement meets the rows it met the first time:
- as sent: BEGIN and COMMIT each a round trip of its own, as psycopg sends them by itself;
- with BEGIN sent along with the first string and COMMIT with the last, as the exchange sends them: two round
  trips fewer per order.
Printed for each, per order: orders/s, wall time, the CPU of the client process and of its PostgreSQL backend, and orders/s
against pgbench's 1-client ceiling measured in the same run.
"""

import argparse
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (bench helpers; they import nothing of the exchange)

WARM_UP = 200


def record(ids: dict, batch: int, transactions_timed: int) -> tuple[list[list[str]], dict]:
    """Place WARM_UP orders, then `transactions_timed` transactions (an order each, or `batch` orders); each
    transaction's query strings, and the figures of the timed ones (wall, this process's CPU and its backend's, in
    seconds)."""
    from django.db import connection

    from exchange.db import SEPARATOR

    place = common.placer(batch, ids, random.Random(1))
    transactions: list[list[str]] = []
    begin, commit = f"BEGIN{SEPARATOR}", f"{SEPARATOR}COMMIT"

    def recording(execute, sql, params, many, context):
        sent = context["cursor"].cursor.mogrify(sql, params) if params else sql
        # The statements only: the replays send BEGIN and COMMIT their own ways (run_statements sends them along).
        transactions[-1].append((sent.removeprefix(begin) if not transactions[-1] else sent).removesuffix(commit))
        return execute(sql, params, many, context)

    def run(count: int) -> None:
        with connection.execute_wrapper(recording):
            for _ in range(count):
                transactions.append([])
                place()

    # The traders and markets placer read went through a pooled connection; the orders' first statements must be
    # the first of a fresh connection, as on the copies (exchange/prepared.py prepares statements per connection).
    connection.close_pool()
    run(WARM_UP // (batch or 1))
    with common.timed(common.backend_pid()) as figures:
        run(transactions_timed)
    return transactions, figures


def replay(database: str, transactions: list[list[str]], timed: int, *, merged: bool) -> dict:
    """Send the recorded strings on one fresh connection, a transaction at a time; figures of the last `timed`.
    Every transaction commits: one that was refused (rolled back) had read, locked and drawn keys only, which a
    commit leaves as a rollback would."""
    import psycopg

    from exchange.db import SEPARATOR

    with psycopg.connect(common.database_url(database), autocommit=True) as conn:
        [(backend,)] = conn.execute("SELECT pg_backend_pid()").fetchall()
        cursor = conn.cursor()

        def send(strings: list[str]) -> None:
            if merged:
                trips = [*strings]
                trips[0] = f"BEGIN{SEPARATOR}{trips[0]}"
                trips[-1] = f"{trips[-1]}{SEPARATOR}COMMIT"
            else:
                trips = ["BEGIN", *strings, "COMMIT"]
            for sql in trips:
                cursor.execute(sql)

        for strings in transactions[:-timed]:
            send(strings)
        with common.timed(backend) as figures:
            for strings in transactions[-timed:]:
                send(strings)
        return figures


def measure(database: str, orders: int, batch: int, seconds: float) -> dict:
    """{"what", "orders", "round_trips", "ceiling": {tps, cpu_ms}, "rows": [{label, orders_per_s, wall_ms, cpu_ms,
    backend_ms}]}: the exchange's code, then its SQL replayed twice, on `database` and two copies (dropped after)."""
    ids = common.fresh_exchange(database, market_count=8 if batch else 1, traders=16)
    from django.db import connection

    connection.close()  # a template must have no sessions
    connection.close_pool()
    common.psql("postgres", f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")
    copies = {merged: f"{database}_replay{'_merged' if merged else ''}" for merged in (False, True)}
    for copy in copies.values():
        common.psql("postgres", f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        common.psql("postgres", f'CREATE DATABASE "{copy}" TEMPLATE "{database}"')
    per = batch or 1
    timed = orders // per
    what = f"batches of {batch} in 8 markets" if batch else "order_place, 1 market"
    common.progress(f"placing {WARM_UP} + {timed * per} orders, {what}, recording their SQL")
    transactions, placed = record(ids, batch, timed)
    connection.close_pool()
    common.progress("pgbench, 1 client")
    ceiling = common.pgbench_ceiling(database, 1, seconds)
    measured = [(f"{what} (this code)", placed)]
    for merged, label in ((False, "its SQL replayed, round trips as sent"), (True, "... BEGIN and COMMIT sent along")):
        common.progress(f"sql_floor: replaying, {label}")
        measured.append((label, replay(copies[merged], transactions, timed, merged=merged)))
    for copy in copies.values():
        common.psql("postgres", f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
    n = timed * per
    rows = [
        {"label": label, "orders_per_s": n / f["wall"], "wall_ms": f["wall"] / n * 1000, "cpu_ms": f["cpu"] / n * 1000,
         "backend_ms": f["backend"] / n * 1000}
        for label, f in measured
    ]
    trips = sum(len(strings) + 2 for strings in transactions[-timed:]) / timed
    return {"what": what, "orders": n, "round_trips": trips, "ceiling": ceiling, "rows": rows}


def print_rows(result: dict, indent: str = "") -> None:
    """The table of one measure(): each row's orders/s against pgbench at 1 client, and its costs per order."""
    ceiling = result["ceiling"]
    print(f"{indent}{'what':<46}{'orders/s':>9}{'vs pgbench':>11}{'wall ms':>9}{'client CPU':>11}{'backend CPU':>12}")
    for row in result["rows"]:
        print(f"{indent}{row['label']:<46}{row['orders_per_s']:>9.0f}{row['orders_per_s'] / ceiling['tps']:>11.2f}"
              f"{row['wall_ms']:>9.2f}{row['cpu_ms']:>11.2f}{row['backend_ms']:>12.2f}")
    print(f"{indent}pgbench, 1 client: {ceiling['tps']:.0f} tx/s, {1000 / ceiling['tps']:.2f} ms per transaction, of "
          f"which the whole machine's CPU {ceiling['cpu_ms']:.2f} ms; replayed as sent, {result['round_trips']:.2f} "
          "round trips per transaction")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=5, help="of pgbench")
    parser.add_argument("--database", default="bench_floor")
    parser.add_argument("--batch", type=int, default=0, help="orders per transaction, in 8 markets (0: order_place)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line (for run_all.py)")
    args = parser.parse_args()
    result = measure(args.database, args.orders, args.batch, args.seconds)
    if args.json:
        common.emit_json(result)
        return
    print(f"{result['orders']} orders of the mix, {result['what']}, one process; load average "
          f"{os.getloadavg()[0]:.2f}")
    print_rows(result)
    print("ms and CPU: per order; CPU: of the process placing or replaying, and of its PostgreSQL backend")


if __name__ == "__main__":
    main()
