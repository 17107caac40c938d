"""Orders per second of the place-order service on PostgreSQL, beside PostgreSQL's own row-locking ceiling.

    .venv/bin/python bench/place_orders.py [--seconds 5] [--workers 1,2,4,8] [--traders 16] [--writers 1]
        [--database bench] [--json]

(1) The ceiling: pgbench running what one settlement must at least do — lock one market row, lock two account
rows in key order, update both, insert one row, commit — with the same client counts.
(2) order_place with a mix of resting and crossing orders (about half trade) in one market and in eight markets,
each worker a separate process with its own connection, each order by one of `--traders` users picked at random
(the same users in every market, so orders in different markets still meet at the quote currency's account rows).
(2') the same through order_submit to `--writers` order writer processes (markets/writer.py: each market's
orders queue in Redis and its writer places them in batches, one transaction each).
Every figure is printed with its ratio to the ceiling at its client count, measured again right before it (the
machine's speed drifts within minutes), and with what the whole machine spent on it in CPU per transaction or
order: where both saturate the cores, the ratio of throughputs is the inverse ratio of those costs.
The database is dropped and created afresh. Run on a quiet machine; figures are only comparable within one run.
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

MARKET_COUNTS = (1, 8)


def measure(database: str, worker_counts: list[int], seconds: float, traders: int = 16, writers: int = 0) -> dict:
    """{"ceiling": {clients: {tps, cpu_ms}}, "service": [{markets, workers, [writers,] ceiling_tps, orders_per_s,
    ...}]} on a fresh `database`. Each service row also has the ceiling at its client count measured right before
    it (`ceiling_tps`), its ratio's reference: this machine's speed drifts by tens of per cent over the minutes
    between (1) and the last row, so a ratio to (1) alone could halve or double with the hour."""
    common.database_recreate(database)
    ceiling = {}
    for n in worker_counts:
        common.progress(f"(1) pgbench ceiling, {n} client(s)")
        ceiling[n] = common.pgbench_ceiling(database, n, seconds)
    common.django_setup(database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    ids = common.setup_exchange(market_count=max(MARKET_COUNTS), traders=traders)
    service = []

    def row(label: str, market_count: int, workers: int, **options) -> dict:
        common.progress(f"(2) {label}, {market_count} market(s), {workers} worker(s), the ceiling right before")
        # Every row starts from the same empty books: rows piled up resting orders far from the traded prices, and
        # late rows met the cap of open orders per trader and market (MAX_OPEN_ORDERS_PER_MARKET) in refusals.
        cancel_open_orders(ids)
        ceiling_tps = common.pgbench_ceiling(database, workers, seconds)["tps"]
        figures = common.run_service(ids["traders"], ids["markets"][:market_count], workers, seconds,
                                     seed=market_count, **options)
        return {"markets": market_count, "workers": workers, "ceiling_tps": ceiling_tps, **figures}

    for market_count in MARKET_COUNTS:
        for n in worker_counts:
            service.append(row("order_place", market_count, n))
    if writers:
        with common.OrderWriters(writers, ids["markets"]):
            for market_count in MARKET_COUNTS:
                for n in worker_counts:
                    service.append({**row(f"order_submit via {writers} writer(s)", market_count, n, via_writers=True),
                                    "writers": writers})
    ok, took, output = common.audit()
    if not ok:
        sys.exit(f"the audit failed after the place-order runs:\n{output}")
    return {"ceiling": ceiling, "service": service, "audit_s": took}


def cancel_open_orders(ids: dict) -> None:
    """Cancel the traders' open orders in every market (through the service: their holds are released)."""
    from django.contrib.auth.models import User

    from markets.services import orders_cancel_all

    for user in User.objects.filter(pk__in=ids["traders"]):
        for market_id in ids["markets"]:
            orders_cancel_all(user=user, market_id=market_id)


def service_label(row: dict) -> str:
    service = f"order_submit, {row['writers']} writer(s)" if row.get("writers") else "order_place"
    return f"(2) {service}, {row['markets']} market{'s' * (row['markets'] > 1)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--workers", default="1,2,4,8")
    parser.add_argument("--traders", type=int, default=16, help="users placing the orders, shared by all markets")
    parser.add_argument("--database", default="bench")
    parser.add_argument("--writers", type=int, default=1, help="order writer processes for the writer rows (0: none)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line (for run_all.py)")
    args = parser.parse_args()
    result = measure(
        args.database, [int(n) for n in args.workers.split(",")], args.seconds, args.traders, args.writers
    )
    if args.json:
        common.emit_json(result)
        return
    ceiling = result["ceiling"]
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}; {args.seconds} s per figure; "
          f"{args.traders} traders")
    print(f"{'what':<44}{'workers':>8}{'orders/s':>10}{'(1) tx/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'traded':>8}{'errors':>8}{'CPU ms':>8}")
    for n, figures in ceiling.items():
        print(f"{'(1) pgbench settlement ceiling':<44}{n:>8}{figures['tps']:>10.0f}{'':>10}{'':>8}{'':>42}"
              f"{figures['cpu_ms']:>8.2f}")
    for row in result["service"]:
        ratio = row["orders_per_s"] / row["ceiling_tps"]
        print(
            f"{service_label(row):<44}{row['workers']:>8}{row['orders_per_s']:>10.0f}{row['ceiling_tps']:>10.0f}"
            f"{ratio:>8.2f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['traded']:>8.0%}{row['errors']:>8}"
            f"{row['cpu_ms']:>8.2f}"
        )
    print("(1) tx/s: the ceiling at the same client count, measured right before the row; ratio: orders/s to it")
    print("CPU ms: what the whole machine (clients, writers, Redis, PostgreSQL) spent per transaction or order")
    print(f"audit after the run: all invariants hold ({result['audit_s']:.1f} s)")


if __name__ == "__main__":
    main()
