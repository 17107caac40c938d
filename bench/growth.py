"""Growth: the place-order figures and the read paths that must not slow with history, on one seeded exchange.

    .venv/bin/python bench/growth.py --resting 1000000 --trades 1000000 [--seconds 5] [--audit] [--database X] [--json]
        [--only prepare|measure]

On a fresh database: eight markets BASEi-QUOTE, sixteen funded traders, and a seed written in SQL (bench/seed.py):
every market has a last day of trading (common.LAST_DAY_TRADES each, so tickers and candles always have a day to
read), market 0 (the one-market figures and the reads) holds `--resting` resting orders far from the traded prices
and the rest of `--trades` past trades spread over the RETENTION_DAYS before that day. Then it measures
order_place (1 market × 1 and 8 workers, 8 markets × 8 workers), and each read's median time: the book snapshot
(depth 50), the ticker of market 0, the tickers of all markets, 1m and 1h candles over the last day, and the REST
GETs of ticker and 1h candles (Django's test client, in process: the view and its queries, no HTTP).
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

RETENTION_DAYS = 60
PLACE_RUNS = ((1, 1), (1, 8), (8, 8))  # (markets, workers)
READ_SECONDS = 1.0  # per read: repeat it this long (at least READ_MIN_CALLS times) and take the median


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


def time_read(call, *, min_calls: int = 20) -> float:
    """Median milliseconds of `call()`, repeated for READ_SECONDS (at least `min_calls` times)."""
    call()  # warm: first-call imports and plans don't count
    times, deadline = [], time.perf_counter() + READ_SECONDS
    while len(times) < min_calls or time.perf_counter() < deadline:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure_reads(ids: dict) -> dict:
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

    reads = {
        "book snapshot, depth 50": lambda: selectors.book_snapshot(market=market, depth=50),
        "ticker, market 0": lambda: selectors.ticker(market=market),
        f"tickers, all {len(markets)} markets": lambda: selectors.tickers(markets=markets),
        "candles 1m, last day": lambda: selectors.candles(market=market, interval="1m", start=since, limit=1000),
        "candles 1h, last day": lambda: selectors.candles(market=market, interval="1h", start=since),
        "REST GET ticker": lambda: rest(f"/api/v1/markets/{market.symbol}/ticker"),
        "REST GET candles 1h, last day": lambda: rest(f"/api/v1/markets/{market.symbol}/candles?interval=1h&start={stamp}"),
    }
    figures = {}
    for name, call in reads.items():
        common.progress(f"(5) read: {name}")
        figures[name] = time_read(call)
    snapshot = selectors.book_snapshot(market=market, depth=50)
    figures["_levels"] = len(snapshot.bids) + len(snapshot.asks)
    return figures


def prepare(database: str, *, resting: int, trades: int, run_audit: bool) -> dict:
    """A fresh `database`: the exchange, its seed and (with `run_audit`) the audit of it; what it took."""
    common.database_recreate(database)
    common.django_setup(database)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    ids = common.setup_exchange(market_count=8, traders=16, history=False)  # seed() writes the history
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


def measure(database: str, *, seconds: float) -> dict:
    """The place-order and read figures of the exchange prepare() left in `database`."""
    common.django_setup(database)
    ids = common.exchange_ids()
    place = []
    for market_count, workers in PLACE_RUNS:
        common.progress(f"(5) order_place, {market_count} market(s), {workers} worker(s)")
        figures = common.run_service(ids["traders"], ids["markets"][:market_count], workers, seconds, seed=7)
        place.append({"markets": market_count, "workers": workers, **figures})
    return {"place": place, "reads": measure_reads(ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resting", type=int, default=0)
    parser.add_argument("--trades", type=int, default=8 * common.LAST_DAY_TRADES)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--audit", action="store_true", help="run manage.py audit after seeding (and time it)")
    parser.add_argument("--database", default="bench_growth")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line (for run_all.py)")
    parser.add_argument("--only", choices=("prepare", "measure"),
                        help="one half: prepare the database, or measure one prepared before (run_all.py interleaves)")
    args = parser.parse_args()
    result = {}
    if args.only != "measure":
        result.update(prepare(args.database, resting=args.resting, trades=args.trades, run_audit=args.audit))
    if args.only != "prepare":
        result.update(measure(args.database, seconds=args.seconds))
    if args.json:
        common.emit_json(result)
        return
    if args.only:
        print(result)
        return
    print(f"{args.resting:,} resting orders, {args.trades:,} past trades; seeded in {result['seed_s']:.0f} s"
          + (f"; audit {result['audit_s']:.0f} s, all invariants hold" if "audit_s" in result else ""))
    for row in result["place"]:
        print(f"order_place {row['markets']} market(s) x {row['workers']} worker(s): {row['orders_per_s']:.0f}/s, "
              f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, traded {row['traded']:.0%}")
    for name, ms in result["reads"].items():
        if not name.startswith("_"):
            print(f"{name}: {ms:.2f} ms")


if __name__ == "__main__":
    main()
