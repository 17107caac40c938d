"""Is one checkout's order path faster than another's? The two take turns on the same workload, so the machine's
drift (tens of per cent within minutes here) falls on both alike.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/code_ab.py /tmp/before . [--batch N | --rest | --writer N] [--seconds 1] [--rounds 15]

One process per checkout, each on its own fresh database (the exchange of profile_orders.py: one market, or 8
with `--batch`), placing orders of the usual mix (about half trade) one by one with order_place, or `--batch` at a
time as an order writer does, or with `--rest` as bots do: POST /api/v1/orders signed with API keys, through
Django's whole request cycle in the process (api_latency.py's exchange; no HTTP server). With `--writer N`, N
processes submit orders (order_submit) in one market, served by the checkout's own order writer process: the
order_submit rows of place_orders.py. In each round both run for `--seconds`, in alternating order. Printed: per
checkout, orders/s and the CPU per order of the process and of its PostgreSQL backend (with `--writer`: of the
writer and of the whole machine) over all turns; and for B against A the median over the rounds of the ratio
within the round, with the lowest and highest. profile_orders.py tells where the time goes; this tells whether a
change moved it.
"""

import argparse
import atexit
import itertools
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import common  # noqa: E402  (bench helpers; they import nothing of the exchange)


def worker(root: str, database: str, batch: int, rest: bool, submitters: int, pipe) -> None:
    """Set up one checkout's exchange, then place orders for the seconds asked until told to stop; answer each
    turn with (orders, CPU seconds, CPU seconds): of this process and of its backends, or with `submitters`, of
    the order writer and of the whole machine."""
    sys.path.insert(0, root)
    if submitters:
        turn = writer_turns(root, database, submitters)
    else:
        turn = in_process_turns(database, batch, rest)
    pipe.send("ready")
    while (seconds := pipe.recv()) is not None:
        pipe.send(turn(seconds))


def in_process_turns(database: str, batch: int, rest: bool):
    if rest:
        place = rest_placer(database, random.Random(1))
    else:
        ids = common.fresh_exchange(database, market_count=8 if batch else 1, traders=16)
        place = common.placer(batch, ids, random.Random(1))
    for _ in range(50):  # the connection pool at its working size, so its backends are all there to time
        place()
    backends = backend_pids(database)

    def backends_cpu() -> float:
        return sum(common.process_cpu_seconds(pid) for pid in backends)

    def turn(seconds: float) -> tuple[int, float, float]:
        orders, cpu, backend_cpu = 0, time.process_time(), backends_cpu()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            orders += place()
        return orders, time.process_time() - cpu, backends_cpu() - backend_cpu

    return turn


def writer_turns(root: str, database: str, submitters: int):
    """Turns of `submitters` processes calling order_submit in one market, served by one order writer (place_orders'
    order_submit rows). The writer runs from start to end; the submitters start afresh each turn, after the
    traders' open orders are cancelled (else they reach the cap of open orders per market within a few turns)."""
    from place_orders import cancel_open_orders

    ids = common.fresh_exchange(database, market_count=1, traders=16)
    writers = common.OrderWriters(1, ids["markets"], root=Path(root)).__enter__()
    atexit.register(writers.__exit__)
    [writer_pid] = [process.pid for process in writers.processes]
    rounds = itertools.count()

    def turn(seconds: float) -> tuple[int, float, float]:
        cancel_open_orders(ids)
        writer_cpu = common.process_cpu_seconds(writer_pid)
        figures = common.run_service(ids["traders"], ids["markets"], submitters, seconds, seed=next(rounds),
                                     via_writers=True)
        writer_cpu = common.process_cpu_seconds(writer_pid) - writer_cpu
        return figures["orders"], writer_cpu, figures["cpu_ms"] * figures["orders"] / 1000

    return turn


def backend_pids(database: str) -> list[int]:
    """The PostgreSQL backends serving `database`: this process's pooled connections (a request may take any)."""
    pids = common.psql("postgres", f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}'")
    return [int(pid) for pid in pids.split()]


def rest_placer(database: str, rng: random.Random):
    """A function that places one order of the mix as a bot does, POST /api/v1/orders signed with an API key,
    through Django's whole request cycle in this process (its test client: no HTTP server, whose cost is the same
    for both checkouts)."""
    from api_latency import order_body, setup_data  # an exchange of one market, an API key per trader

    # Signature replay records and throttles in Redis, as production keeps them (settings must not be loaded yet).
    os.environ.setdefault("CACHE_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    [symbol], credentials = setup_data(database, markets=1, clients=4)
    from django.test import Client

    from exchange_client.signing import signed_headers

    client = Client()

    def place_one() -> int:
        key_id, secret = rng.choice(credentials)
        body = order_body(symbol, rng)
        headers = signed_headers(key_id, secret, "POST", "/api/v1/orders", body)
        response = client.post("/api/v1/orders", data=body, content_type="application/json", headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"the order was refused: {response.status_code} {response.content[:200]!r}")
        return 1

    return place_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", help="checkout A (the reference)")
    parser.add_argument("b", help="checkout B")
    parser.add_argument("--batch", type=int, default=0, help="orders per transaction, in 8 markets (0: order_place)")
    parser.add_argument("--rest", action="store_true", help="POST /api/v1/orders, signed, through Django in-process")
    parser.add_argument("--writer", type=int, default=0, metavar="SUBMITTERS",
                        help="order_submit from this many processes through one order writer, one market")
    parser.add_argument("--seconds", type=float, default=1.0, help="per turn")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for name, root in (("a", args.a), ("b", args.b)):
        ours, theirs = context.Pipe()
        options = (args.batch, args.rest, args.writer)
        process = context.Process(target=worker, args=(str(Path(root).resolve()), f"bench_ab_{name}", *options, theirs))
        process.start()
        pipes.append(ours)
        processes.append(process)
    try:
        for pipe in pipes:
            if pipe.recv() != "ready":
                sys.exit("a worker failed to start")

        def turn(side: int, seconds: float) -> tuple[int, float, float]:
            pipes[side].send(seconds)
            return pipes[side].recv()

        for side in (0, 1):  # warm up: imports, plans, a book to trade against
            turn(side, 2.0)
        rounds = []
        for number in range(args.rounds):
            order = (0, 1) if number % 2 == 0 else (1, 0)
            figures = {side: turn(side, args.seconds) for side in order}
            rounds.append((figures[0], figures[1]))
    finally:
        for pipe in pipes:
            pipe.send(None)
        for process in processes:
            process.join(30)

    def measures(turns: list[tuple[int, float, float]]) -> list[float]:
        """orders/s, and process and backend CPU ms per order, over `turns`."""
        orders, cpu, backend = (sum(column) for column in zip(*turns))
        return [orders / (len(turns) * args.seconds), cpu * 1000 / max(orders, 1), backend * 1000 / max(orders, 1)]

    overall = [measures([round_[side] for round_ in rounds]) for side in (0, 1)]
    per_round = [(measures([a]), measures([b])) for a, b in rounds]
    what = f"{args.batch} orders per transaction in 8 markets" if args.batch else "order_place, one market"
    if args.rest:
        what = "POST /api/v1/orders, signed, one market"
    if args.writer:
        what = f"order_submit from {args.writer} processes through one order writer, one market"
    print(f"{what}; {args.rounds} rounds of {args.seconds} s turns; load average {common.machine_state()['load']}")
    print(f"{'':<24}{'A':>10}{'B':>10}{'B/A median':>12}{'lowest':>9}{'highest':>9}")
    cpu_labels = ("writer CPU ms/order", "machine CPU ms/order") if args.writer else (
        "process CPU ms/order", "backend CPU ms/order")
    for index, label in enumerate(("orders/s", *cpu_labels)):
        ratios = sorted(b[index] / a[index] for a, b in per_round)
        print(f"{label:<24}{overall[0][index]:>10.2f}{overall[1][index]:>10.2f}{statistics.median(ratios):>12.3f}"
              f"{ratios[0]:>9.3f}{ratios[-1]:>9.3f}")
    print(f"A: {args.a}\nB: {args.b}")


if __name__ == "__main__":
    main()
