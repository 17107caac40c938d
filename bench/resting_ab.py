"""Does a deep book slow order_place? Side by side in one process, on one database: market 0 holds `--resting`
resting orders far from the traded prices (bench/seed.py), market 1 none; turns of `--orders` orders alternate
between them, and each turn prints orders/s and the CPU of this process and of its PostgreSQL backend per order.

    .venv/bin/python bench/resting_ab.py [--resting 10000] [--orders 500] [--turns 4] [--database bench_resting_ab]

growth.py compares whole exchanges (one database per level, taking turns); here both books share one database and
one process, so what is told apart is the book alone, not the size of the tables around it.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resting", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=500, help="orders per turn")
    parser.add_argument("--turns", type=int, default=4, help="turns per market")
    parser.add_argument("--database", default="bench_resting_ab")
    args = parser.parse_args()

    common.database_recreate(args.database)
    common.django_setup(args.database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    ids = common.setup_exchange(market_count=2, traders=16)
    import seed

    common.progress(f"seeding {args.resting:,} resting orders in market 0")
    seed.resting_orders(market_id=ids["markets"][0], issuer_id=ids["issuer"], count=args.resting)
    seed.vacuum_analyze()

    from django.contrib.auth.models import User
    from exchange.errors import DomainError
    from markets.models import Market
    from markets.services import order_place

    users = list(User.objects.filter(pk__in=ids["traders"]))
    markets = [Market.objects.get(pk=pk) for pk in ids["markets"]]
    backend = common.backend_pid()
    rng = random.Random(3)

    def turn(market: Market, orders: int) -> tuple[float, float, float]:
        started, cpu, backend_cpu = time.perf_counter(), time.process_time(), common.process_cpu_seconds(backend)
        for _ in range(orders):
            try:
                order_place(user=rng.choice(users), market_id=market.pk, request=common.limit_order(rng, market))
            except DomainError:
                pass
        elapsed = time.perf_counter() - started
        return (orders / elapsed, (time.process_time() - cpu) * 1000 / orders,
                (common.process_cpu_seconds(backend) - backend_cpu) * 1000 / orders)

    for market in markets:  # warm up: plans, imports, a book to trade against
        turn(market, 200)
    print(f"{'book':<34}{'orders/s':>10}{'client ms':>11}{'backend ms':>12}")
    rates = {0: [], 1: []}
    for _ in range(args.turns):
        for index, label in ((0, f"{args.resting:,} resting orders"), (1, "no resting orders")):
            rate, client, backend_ms = turn(markets[index], args.orders)
            rates[index].append(rate)
            print(f"{label:<34}{rate:>10.0f}{client:>11.2f}{backend_ms:>12.2f}", flush=True)
    ratio = sorted(rates[0])[len(rates[0]) // 2] / sorted(rates[1])[len(rates[1]) // 2]
    print(f"median orders/s with the resting orders / without: {ratio:.2f}")


if __name__ == "__main__":
    main()
