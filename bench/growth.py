"""Growth: the place-order figures and the read paths that must not slow with history, on seeded exchanges.

    .venv/bin/python bench/growth.py --resting 1000000 --trades 1000000 [--seconds 5] [--audit] [--database X] [--json]
    .venv/bin/python bench/growth.py --only prepare --database X --resting N --trades M [--audit]
    .venv/bin/python bench/growth.py --only measure --database X,Y,Z [--seconds 5] [--rounds 5]

Preparing a fresh database: eight markets BASEi-QUOTE, sixteen funded traders, and a seed written in SQL
(bench/seed.py): every market has a last day of trading (common.LAST_DAY_TRADES each, so tickers and candles always
have a day to read), market 0 (the one-market figures and the reads) holds `--resting` resting orders far from the
traded prices and the rest of `--trades` past trades spread over the RETENTION_DAYS before that day.

Measuring: order_place (1 market × 1 and 8 workers, 8 markets × 8 workers), and each read's median time: the book
snapshot (depth 50), the ticker of market 0, the tickers of all markets, 1m and 1h candles over the last day, and
the REST GETs of ticker and 1h candles (Django's test client, in process: the view and its queries, no HTTP).
Several databases (levels of growth) are measured in turns of a second or less, each against the first: measured
one after another, minutes apart, the machine's drift outweighed what growth costs (measure()).
"""

import argparse
import multiprocessing
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

RETENTION_DAYS = 60
PLACE_RUNS = ((1, 1), (1, 8), (8, 8))  # (markets, workers)
ROUNDS = 5  # turns each level takes at each place-order figure
# Reads are short, and within seconds this machine's speed swings a read's time by half (single rounds' ratios of
# 0.65-1.70 between identical reads): more rounds, for a median that holds still.
READ_ROUNDS = 15
READ_TURN_SECONDS = 0.25  # a level's turn at a read: repeat it this long, at least READ_MIN_CALLS times
READ_MIN_CALLS = 5


def seed(ids: dict, *, resting: int, trades: int) -> dict:
    """Seed the exchange set up by common.setup_exchange; return what was written and how long it took."""
    import seed as seeding
    from django.utils import timezone

    started = time.perf_counter()
    now = timezone.now().replace(second=0, microsecond=0)
    day_start = now - timedelta(days=1)
    historian_a, historian_b = ids["historians"]
    markets = ids["markets"]
    # Oldest first, so ids rise with time as on a real exchange: market 0's long history, then a last day in
    # which every market trades (interleaved), then the resting orders.
    recent = min(common.LAST_DAY_TRADES * len(markets), trades)
    steps = (
        ("older trades", lambda: seeding.past_trades(
            market_ids=markets[:1], user_a=historian_a, user_b=historian_b, count=trades - recent,
            start=day_start - timedelta(days=RETENTION_DAYS), end=day_start)),
        ("last day's trades", lambda: seeding.past_trades(
            market_ids=markets, user_a=historian_a, user_b=historian_b, count=recent, start=day_start,
            end=now - timedelta(minutes=2))),
        ("resting orders", lambda: seeding.resting_orders(market_id=markets[0], issuer_id=ids["issuer"], count=resting)),
        ("candles", lambda: seeding.candles(market_ids=markets)),
        ("vacuum analyze", seeding.vacuum_analyze),
        ("foreign keys, every row checked", _check_foreign_keys),
    )
    for name, step in steps:
        step_started = time.perf_counter()
        step()
        common.progress(f"(5)   {name}: {time.perf_counter() - step_started:.1f} s")
    return {"seed_s": time.perf_counter() - started}


def _check_foreign_keys() -> None:
    import seed as seeding

    broken = seeding.foreign_keys_broken()
    if broken:
        sys.exit("the seed breaks foreign keys:\n" + "\n".join(broken))


def read_calls(ids: dict) -> dict:
    """Each read path, by name: a call that reads it once."""
    from django.test import Client
    from django.utils import timezone

    from markets import selectors
    from markets.models import Market

    markets = list(Market.objects.select_related("base", "quote").filter(pk__in=ids["markets"]).order_by("pk"))
    market = markets[0]
    since = timezone.now() - timedelta(days=1)
    client = Client()
    stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")

    def rest(path: str):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code, response.content[:200])

    return {
        "book snapshot, depth 50": lambda: selectors.book_snapshot(market=market, depth=50),
        "ticker, market 0": lambda: selectors.ticker(market=market),
        f"tickers, all {len(markets)} markets": lambda: selectors.tickers(markets=markets),
        "candles 1m, last day": lambda: selectors.candles(market=market, interval="1m", start=since, limit=1000),
        "candles 1h, last day": lambda: selectors.candles(market=market, interval="1h", start=since),
        "REST GET ticker": lambda: rest(f"/api/v1/markets/{market.symbol}/ticker"),
        "REST GET candles 1h, last day": lambda: rest(f"/api/v1/markets/{market.symbol}/candles?interval=1h&start={stamp}"),
    }


def time_calls(call, seconds: float) -> list[float]:
    """Milliseconds of each `call()`, repeated for `seconds` (at least READ_MIN_CALLS times)."""
    times, deadline = [], time.perf_counter() + seconds
    while len(times) < READ_MIN_CALLS or time.perf_counter() < deadline:
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def prepare(database: str, *, resting: int, trades: int, run_audit: bool) -> dict:
    """A fresh `database`: the exchange, its seed and (with `run_audit`) the audit of it; what it took."""
    ids = common.fresh_exchange(database, market_count=8, traders=16, history=False)  # seed() writes the history
    common.progress(f"(5) seeding {resting:,} resting orders and {trades:,} past trades")
    result = {"resting": resting, "trades": trades, **seed(ids, resting=resting, trades=trades)}
    common.progress(f"(5) seeded in {result['seed_s']:.0f} s")
    if run_audit:
        common.progress("(5) manage.py audit on the seeded exchange")
        ok, took, output = common.audit()
        if not ok:
            sys.exit(f"the seed breaks an invariant:\n{output}")
        result["audit_s"] = took
    return result


def level_worker(database: str, pipe) -> None:
    """A process on one level's database: does what the measuring process asks, one command at a time, starting
    at the time it names, and answers with what it measured; None ends it."""
    common.django_setup(database)
    from django.contrib.auth.models import User
    from django.db import connections

    from markets import selectors
    from markets.models import Market
    from markets.services import order_place

    ids = common.exchange_ids()
    users = list(User.objects.filter(pk__in=ids["traders"]))
    markets = list(Market.objects.filter(pk__in=ids["markets"]).order_by("pk"))
    reads = read_calls(ids)
    while (command := pipe.recv()) is not None:
        kind, start_at, seconds, argument = command
        time.sleep(max(0.0, start_at - time.time()))
        if kind == "place":
            market_count, seed = argument
            pipe.send(common.place_for(seconds, order_place, random.Random(seed), users, markets[:market_count]))
        elif kind == "read":
            pipe.send(time_calls(reads[argument], seconds))
        else:  # "describe": the reads' names, and how many price levels market 0's snapshot of depth 50 returns
            snapshot = selectors.book_snapshot(market=markets[0], depth=50)
            pipe.send({"reads": list(reads), "levels": len(snapshot.bids) + len(snapshot.asks)})
    connections.close_all()


class Levels:
    """One process per worker on each level's database, so the levels can take turns of a second or less."""

    def __init__(self, databases: list[str], workers: int):
        context = multiprocessing.get_context("spawn")  # a forked connection pool would be shared
        self.pipes, self.processes = [], []
        for database in databases:
            ends = [context.Pipe() for _ in range(workers)]
            self.pipes.append([mine for mine, _ in ends])
            self.processes += [context.Process(target=level_worker, args=(database, theirs)) for _, theirs in ends]
        for process in self.processes:
            process.start()

    def run(self, level: int, workers: int, kind: str, seconds: float, arguments: list) -> list:
        """`workers` of the level's processes run the command together; their answers."""
        start_at = time.time() + 0.05  # all of them start together
        pipes = self.pipes[level][:workers]
        for pipe, argument in zip(pipes, arguments, strict=True):
            pipe.send((kind, start_at, seconds, argument))
        return [pipe.recv() for pipe in pipes]

    def close(self) -> None:
        for pipe in (pipe for level in self.pipes for pipe in level):
            try:
                pipe.send(None)
            except OSError:  # that worker died (its error is on stderr); the others must still stop
                pass
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


def in_turns(levels: int, rounds: int, measure_turn) -> list[list]:
    """measure_turn(round, level) for every round and level, as by_round[round][level]. Every round measures each
    level once, starting one level further on than the round before, so no level is always measured first or
    right after another."""
    by_round = [[None] * levels for _ in range(rounds)]
    for round_number in range(rounds):
        for step in range(levels):
            level = (round_number + step) % levels
            by_round[round_number][level] = measure_turn(round_number, level)
    return by_round


def measure(databases: list[str], *, seconds: float, rounds: int) -> list[dict]:
    """The place-order and read figures of the exchanges prepare() left in `databases`, the levels taking turns:
    each figure is measured `rounds` times per level, in turns of seconds / rounds (reads: READ_ROUNDS turns of
    READ_TURN_SECONDS).

    Per level: each figure over all its turns, and its ratio to the first level's as the median over the rounds
    of the ratio within the round: a level's turn is seconds from the first level's, so the machine's drift,
    tens of per cent over minutes, cancels out."""
    count, turn = len(databases), seconds / rounds
    results = [{"place": [], "reads": {}, "ratios": {"place": [], "reads": {}}} for _ in databases]
    levels = Levels(databases, max(workers for _, workers in PLACE_RUNS))
    try:
        for market_count, workers in PLACE_RUNS:
            common.progress(f"(5) order_place, {market_count} market(s), {workers} worker(s), {count} levels in turns")
            for level in range(count):  # warm up: plans, caches, a book to trade against; not counted
                levels.run(level, workers, "place", min(turn, 1.0), [(market_count, -1 - n) for n in range(workers)])
            by_round = in_turns(count, rounds, lambda round_number, level: levels.run(
                # the same seeds, so the same orders, at every level
                level, workers, "place", turn, [(market_count, round_number * 100 + n) for n in range(workers)]))
            for level in range(count):
                figures = _place_figures([a for answers in by_round for a in answers[level]], turn * rounds)
                results[level]["place"].append({"markets": market_count, "workers": workers, **figures})
            per_round = [[_place_figures(answers[level], turn) for level in range(count)] for answers in by_round]
            for level in range(count):
                results[level]["ratios"]["place"].append(
                    {name: _median_ratio(per_round, level, lambda figures: figures[name])
                     for name in ("orders_per_s", "p50_ms", "p99_ms")})
        [description] = levels.run(0, 1, "describe", 0.0, [None])
        for name in description["reads"]:
            common.progress(f"(5) read: {name}, {count} levels in turns")
            for level in range(count):
                levels.run(level, 1, "read", 0.0, [name])  # warm: first-call imports and plans don't count
            by_round = in_turns(count, READ_ROUNDS,
                                lambda _, level: levels.run(level, 1, "read", READ_TURN_SECONDS, [name])[0])
            for level in range(count):
                results[level]["reads"][name] = statistics.median(t for times in by_round for t in times[level])
                results[level]["ratios"]["reads"][name] = _median_ratio(by_round, level, statistics.median)
        for level in range(count):
            [description] = levels.run(level, 1, "describe", 0.0, [None])
            results[level]["reads"]["_levels"] = description["levels"]
    finally:
        levels.close()
    return results


def _place_figures(answers: list, seconds: float) -> dict:
    latencies = sorted(latency for lat, _, _ in answers for latency in lat)
    orders = len(latencies)
    return {
        "orders_per_s": orders / seconds,
        "p50_ms": common.percentile(latencies, 0.50) * 1000,
        "p99_ms": common.percentile(latencies, 0.99) * 1000,
        "traded": sum(t for _, t, _ in answers) / max(orders, 1),
        "errors": sum(e for _, _, e in answers),
    }


def _median_ratio(by_round: list[list], level: int, figure) -> float:
    """The median over the rounds of figure(level's measurement) / figure(first level's)."""
    return statistics.median(figure(measured[level]) / figure(measured[0]) for measured in by_round)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resting", type=int, default=0)
    parser.add_argument("--trades", type=int, default=8 * common.LAST_DAY_TRADES)
    parser.add_argument("--seconds", type=float, default=5, help="per figure and level, over all its turns")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="turns per place-order figure and level")
    parser.add_argument("--audit", action="store_true", help="run manage.py audit after seeding (and time it)")
    parser.add_argument("--database", default="bench_growth",
                        help="with --only measure, several prepared ones, comma-separated, to measure in turns")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line (for run_all.py)")
    parser.add_argument("--only", choices=("prepare", "measure"),
                        help="one half: prepare the database, or measure ones prepared before (run_all.py does)")
    args = parser.parse_args()
    databases = args.database.split(",")
    if args.only == "measure":
        result = measure(databases, seconds=args.seconds, rounds=args.rounds)
    else:
        result = prepare(args.database, resting=args.resting, trades=args.trades, run_audit=args.audit)
        if args.only is None:
            result.update(measure([args.database], seconds=args.seconds, rounds=args.rounds)[0])
    if args.json:
        common.emit_json(result)
        return
    if "seed_s" in result:
        print(f"{args.resting:,} resting orders, {args.trades:,} past trades; seeded in {result['seed_s']:.0f} s"
              + (f"; audit {result['audit_s']:.0f} s, all invariants hold" if "audit_s" in result else ""))
    for database, level in zip(databases, result if isinstance(result, list) else [result], strict=False):
        if "place" not in level:
            continue
        print(f"{database} (ratios: to {databases[0]}, the median over the rounds)")
        for row, ratios in zip(level["place"], level["ratios"]["place"], strict=True):
            print(f"    order_place {row['markets']} market(s) x {row['workers']} worker(s): {row['orders_per_s']:.0f}/s "
                  f"({ratios['orders_per_s']:.2f}), p50 {row['p50_ms']:.1f} ms ({ratios['p50_ms']:.2f}), "
                  f"p99 {row['p99_ms']:.1f} ms ({ratios['p99_ms']:.2f}), traded {row['traded']:.0%}")
        for name, ms in level["reads"].items():
            if not name.startswith("_"):
                print(f"    {name}: {ms:.2f} ms ({level['ratios']['reads'][name]:.2f})")


if __name__ == "__main__":
    main()
