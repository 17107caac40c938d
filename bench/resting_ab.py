"""Does a deep book slow order_place? Side by side in one process, on one database: market 0 holds `--resting`
resting orders far from the traded prices (bench/seed.py), market 1 none; turns of `--seconds` alternate
between them, and each turn prints orders/s and the CPU of this process and of its PostgreSQL backend per order.

    .venv/bin/python bench/resting_ab.py [--resting 10000] [--seconds 3] [--turns 4] [--database bench_resting_ab]

growth.py compares whole exchanges (one database per level, taking turns); here both books share one database and
one process, so what is told apart is the book alone, not the size of the tables around it.
"""

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resting", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=3, help="seconds per turn")
    parser.add_argument("--turns", type=int, default=4, help="turns per market")
    parser.add_argument("--database", default="bench_resting_ab")
    args = parser.parse_args()

    ids = common.fresh_exchange(args.database, market_count=2, traders=16)
    import seed

    common.progress(f"seeding {args.resting:,} resting orders in market 0")
    seed.resting_orders(market_id=ids["markets"][0], issuer_id=ids["issuer"], count=args.resting)
    seed.vacuum_analyze()

    from django.contrib.auth.models import User
    from markets.models import Market
    from markets.services import order_place

    users = list(User.objects.filter(pk__in=ids["traders"]))
    markets = [Market.objects.get(pk=pk) for pk in ids["markets"]]
    backend = common.backend_pid()
    rng = random.Random(3)

    def turn(market: Market, seconds: float) -> tuple[float, float, float]:
        cpu, backend_cpu = time.process_time(), common.process_cpu_seconds(backend)
        orders = len(common.place_for(seconds, order_place, rng, users, [market])[0])
        return (orders / seconds, (time.process_time() - cpu) * 1000 / orders,
                (common.process_cpu_seconds(backend) - backend_cpu) * 1000 / orders)

    for market in markets:  # warm up: plans, imports, a book to trade against
        turn(market, 1.0)
    print(f"{'book':<34}{'orders/s':>10}{'client ms':>11}{'backend ms':>12}")
    rates = {0: [], 1: []}
    for _ in range(args.turns):
        for index, label in ((0, f"{args.resting:,} resting orders"), (1, "no resting orders")):
            rate, client, backend_ms = turn(markets[index], args.seconds)
            rates[index].append(rate)
            print(f"{label:<34}{rate:>10.0f}{client:>11.2f}{backend_ms:>12.2f}", flush=True)
    ratio = statistics.median(rates[0]) / statistics.median(rates[1])
    print(f"median orders/s with the resting orders / without: {ratio:.2f}")


if __name__ == "__main__":
    main()
