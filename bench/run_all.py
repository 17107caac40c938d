"""Every benchmark of issue #9 in one run, printed as one table with the machine's state (`make bench`).

    .venv/bin/python bench/run_all.py [--seconds 5] [--quick] [--only 1,2,3,4,5,6] [--prefix bench]

(1) pgbench settlement ceiling and (2) order_place, 1 and 8 markets × 1/2/4/8 workers, and the same through
one order writer (order_submit; a second writer only competes for the same two cores) (bench/place_orders.py);
(3) REST POST /api/v1/orders with signed keys, uvicorn with 1 and 2 processes, without and with an order
writer, 8 clients from two other processes (bench/api_latency.py); (4) the feed with 1, 100 and 1,000
subscribers on one uvicorn process, and 1,000 on two (bench/feed_latency.py, passed through as it prints);
(5) growth: place-order and read figures with an empty book, 10,000 resting orders, and 1,000,000 resting orders
and 1,000,000 past trades, each a ratio to the empty book (bench/growth.py; the big seed is audited once); the
three levels are prepared first, then measured in turns of a second or less, each ratio the median of the
ratios within a round (growth.py measure()); (6) not a target: what the order path's SQL costs alone, replayed
without the Python that made it, for order_place and for an order writer's batches of 8 (bench/sql_floor.py): how
far a faster client could take (2).

Each row of (2) and (3) is judged against pgbench's ceiling with as many clients measured again right before it
(printed beside it): measured minutes apart, the same ratio came out 0.15 in one run and 0.34 in another.
The exchanges of (2) and (3) have a day of trading behind them (common.last_day: 10,000 past trades per market,
then VACUUM ANALYZE), as pgbench measures on initialised tables; (5) seeds its own history.
Each benchmark runs in a process of its own on a database of its own, `<prefix>_place`, `<prefix>_rest`,
`<prefix>_feed` and `<prefix>_growth_<level>`, dropped and created afresh. PostgreSQL and Redis at 127.0.0.1
(REDIS_URL, default db 0). Progress goes to stderr, the table to stdout. Figures are comparable only within
one run: the ratios are the point.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from sql_floor import print_rows  # noqa: E402

BENCH = Path(__file__).resolve().parent
WORKERS = (1, 2, 4, 8)
REST_CLIENTS = 8
GROWTH_RECENT = 8 * common.LAST_DAY_TRADES  # growth.py: a day of trades in each of its eight markets
WORSE = 0.20  # the limit: no growth figure more than 20 % worse than with an empty book


def run_stage(script: str, *args: str, env: dict | None = None) -> dict | list:
    """Run one benchmark with --json in its own process; return what its last JSON line says."""
    command = [sys.executable, str(BENCH / script), *args, "--json"]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
                          cwd=common.ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("JSON ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{script} failed (exit {done.returncode}): {done.stdout[-2000:]}")
    return json.loads(lines[-1][5:])


def run_feed(database: str, *, rate: float, seconds: float, servers: int = 1, subscribers: str = "1,100,1000") -> dict:
    """bench/feed_latency.py prints its own table: keep its lines to pass through, and its rows (--json)."""
    common.database_recreate(database)
    env = {**os.environ, "DATABASE_URL": common.database_url(database), "DJANGO_SETTINGS_MODULE": "exchange.settings.dev",
           "DEBUG": "false"}
    command = [sys.executable, str(BENCH / "feed_latency.py"), "--rate", f"{rate:g}", "--seconds", f"{seconds:g}",
               "--servers", str(servers), "--subscribers", subscribers, "--json"]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=env, cwd=common.ROOT)
    lines = done.stdout.rstrip().splitlines()
    rows = [json.loads(line[5:]) for line in lines if line.startswith("JSON ")]
    lines = [line for line in lines if not line.startswith("JSON ")]
    if done.returncode:
        lines.append(f"feed_latency.py failed (exit {done.returncode}); its stderr is above the table")
    return {"lines": lines, "rows": rows[-1]["feed"] if rows else []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5, help="per figure (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 s per figure and a 100,000-row big growth level")
    parser.add_argument("--only", default="1,2,3,4,5,6", help="which benchmarks (1 and 2 always run together)")
    parser.add_argument("--prefix", default="bench", help="database names start with this")
    parser.add_argument("--feed-rate", type=float, default=20, help="book deltas per second the feed benchmark makes")
    parser.add_argument("--big", type=int, default=1_000_000, help="resting orders and past trades of the big level")
    args = parser.parse_args()
    seconds = 2 if args.quick else args.seconds
    big = 100_000 if args.quick else args.big
    only = set(args.only.split(","))
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    started = time.monotonic()
    state = common.machine_state()
    results: dict = {}

    failures: list[str] = []

    def attempt(name: str, stage):
        """Run one stage; a failure is reported in the table and the other stages still run."""
        try:
            return stage()
        except Exception as error:  # noqa: BLE001 - any failure of a stage becomes a line of the report
            failures.append(f"{name}: {str(error).strip()[-300:]}")
            common.progress(f"{name} FAILED: {error}")
            return None

    if only & {"1", "2"}:
        common.progress("(1)+(2) pgbench ceiling and order_place")
        results["place"] = attempt("(1)+(2)", lambda: run_stage(
            "place_orders.py", "--database", f"{args.prefix}_place", "--seconds", str(seconds),
            "--workers", ",".join(map(str, WORKERS))))
    if "3" in only:
        results["rest"] = attempt("(3)", lambda: run_stage(
            "api_latency.py", "--database", f"{args.prefix}_rest", "--seconds", str(seconds),
            "--clients", str(REST_CLIENTS), "--workers", "1,2"))
    if "4" in only:
        common.progress("(4) feed: bench/feed_latency.py")
        results["feed"] = attempt("(4)", lambda: run_feed(f"{args.prefix}_feed", rate=args.feed_rate, seconds=seconds))
        common.progress("(4) feed, 2 uvicorn processes, 1,000 subscribers")
        results["feed2"] = attempt("(4) 2 processes", lambda: run_feed(
            f"{args.prefix}_feed", rate=args.feed_rate, seconds=seconds, servers=2, subscribers="1000"))
    if "5" in only:
        results["growth"] = attempt("(5)", lambda: run_growth(args.prefix, seconds, big))
    if "6" in only:
        common.progress("(6) the SQL floor: bench/sql_floor.py")
        results["floor"] = attempt("(6)", lambda: [
            run_stage("sql_floor.py", "--database", f"{args.prefix}_floor", "--seconds", str(seconds), *batch)
            for batch in ([], ["--batch", "8"])
        ])
    results = {key: value for key, value in results.items() if value}
    results["failures"] = failures
    end_load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print_table(state, end_load, seconds, time.monotonic() - started, results)


def run_growth(prefix: str, seconds: float, big: int) -> list[dict]:
    """bench/growth.py: prepare each level's database, then measure the levels in turns (growth.py measure())."""
    levels = ((0, GROWTH_RECENT, False), (10_000, GROWTH_RECENT, False), (big, big, True))
    databases = [f"{prefix}_growth_{index}" for index in range(len(levels))]
    prepared = []
    for database, (resting, trades, audit) in zip(databases, levels, strict=True):
        common.progress(f"(5) growth: preparing {resting:,} resting orders, {trades:,} past trades")
        prepared.append(run_stage("growth.py", "--only", "prepare", "--database", database,
                                  "--resting", str(resting), "--trades", str(trades), *(["--audit"] if audit else [])))
    measured = run_stage("growth.py", "--only", "measure", "--database", ",".join(databases), "--seconds", str(seconds))
    return [{**level, **figures} for level, figures in zip(prepared, measured, strict=True)]


# --- the table --------------------------------------------------------------------------------------------------


def print_table(state: dict, end_load: str, seconds: float, took: float, results: dict) -> None:
    minutes, secs = divmod(int(took), 60)
    print(f"Benchmarks of issue #9: {state['cores']} cores; load average {state['load']} at the start, {end_load} at "
          f"the end; PostgreSQL {state['postgres']}; {state['time']}; {seconds:g} s per figure; {minutes} min {secs} s")
    verdicts = []
    if "place" in results:
        print()
        print(f"{'(1) pgbench settlement ceiling':<40}{'clients':>8}{'tx/s':>10}{'':>58}{'CPU ms':>8}")
        for n, figures in results["place"]["ceiling"].items():
            print(f"{'':<40}{n:>8}{figures['tps']:>10.0f}{'':>58}{figures['cpu_ms']:>8.2f}")
        print()
        print(f"{'(2) place-order service':<40}{'workers':>8}{'orders/s':>10}{'(1) now':>8}{'vs (1)':>8}{'p50 ms':>9}"
              f"{'p99 ms':>9}{'traded':>8}{'errors':>8}{'CPU ms':>8}")
        for row in results["place"]["service"]:
            ratio = row["orders_per_s"] / row["ceiling_tps"]
            service = f"order_submit, {row['writers']} writer(s)" if row.get("writers") else "order_place"
            label = f"    {service}, {row['markets']} market{'s' * (row['markets'] > 1)}"
            print(f"{label:<40}{row['workers']:>8}{row['orders_per_s']:>10.0f}{row['ceiling_tps']:>8.0f}{ratio:>8.2f}"
                  f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['traded']:>8.0%}{row['errors']:>8}"
                  f"{row['cpu_ms']:>8.2f}")
            if row["markets"] == 1:
                verdicts.append((f"{service}, 1 market, {row['workers']} worker(s) >= 0.50 of (1)", ratio >= 0.5, ratio))
            elif row["workers"] == 8:
                verdicts.append((f"{service}, 8 markets, 8 workers >= 0.70 of (1)", ratio >= 0.7, ratio))
        print("    ((1) now: the ceiling at the same client count, measured again right before the row, the reference of "
              "vs (1)\n     (the machine's speed drifts within minutes); CPU ms: what the whole machine spent per "
              "transaction or order:\n     clients, writers, Redis, PostgreSQL)")
    if "rest" in results:
        print()
        print(f"{'(3) REST POST /api/v1/orders, signed':<40}{'uvicorn':>8}{'orders/s':>10}{'(1) now':>8}{'vs (1)':>8}"
              f"{'p50 ms':>9}{'p99 ms':>9}{'traded':>8}{'errors':>8}{'srv CPU':>8}")
        for row in results["rest"]:
            ratio = row["orders_per_s"] / row["ceiling_tps"]
            via = f", {row['writers']} writer(s)" if row.get("writers") else ""
            label = f"    {row['clients']} clients{via}"
            print(f"{label:<40}{row['workers']:>7}p{row['orders_per_s']:>10.0f}{row['ceiling_tps']:>8.0f}{ratio:>8.2f}"
                  f"{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['traded']:>8.0%}{sum(row['errors'].values()):>8}"
                  f"{row['server_cpu_ms']:>8.2f}")
            verdicts.append((f"REST, {row['workers']} uvicorn process(es){via} >= 0.30 of (1) at {row['clients']} "
                             "clients", ratio >= 0.3, ratio))
        print(f"    ((1) now: the ceiling at {REST_CLIENTS} clients, measured right before the row; uvicorn Np = N worker "
              "processes;\n     the load comes from 2 other processes; srv CPU: ms the uvicorn processes and writers "
              "spent per request)")
    for key, servers in (("feed", 1), ("feed2", 2)):
        if not results.get(key):
            continue
        print()
        print(f"(4) feed, {servers} uvicorn process(es): commit to book delta at the subscribers (bench/feed_latency.py)")
        for line in results[key]["lines"]:
            print(f"    {line}")
        for row in results[key]["rows"]:
            if row["subscribers"] == 1000:
                verdicts.append((f"feed, {servers} uvicorn process(es): book delta p99 (ms) < 50 with 1,000 subscribers",
                                 row["p99_ms"] < 50, row["p99_ms"]))
    if "growth" in results:
        verdicts += print_growth(results["growth"])
    if "floor" in results:
        print()
        print("(6) the order path's SQL alone: recorded, then replayed on a copy by bare psycopg, one process "
              "(bench/sql_floor.py);\n    ms and CPU per order, vs pgbench at 1 client measured in the same stage")
        for result in results["floor"]:
            print_rows(result, indent="    ")
    if results["failures"]:
        print()
        print("FAILED (see stderr):")
        for failure in results["failures"]:
            print(f"    {failure}")
    if verdicts:
        print()
        print("Targets (ratios from this run)")
        for text, met, ratio in verdicts:
            print(f"    {'met    ' if met else 'NOT met'}  {text}: {ratio:.2f}")


def _short(count: int) -> str:
    """1,000,000 -> 1M, 80,000 -> 80k."""
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if count >= size and count % (size // 10) == 0:
            return f"{count / size:g}{unit}"
    return f"{count:,}"


def print_growth(levels: list[dict]) -> list:
    """Rows: figures; columns: each level's value and its ratio to the empty book's. '!' marks > 20 % worse."""
    print()
    heads = [f"{_short(lv['resting'])} resting, {_short(lv['trades'])} trades" for lv in levels]
    print(f"{'(5) growth':<40}" + "".join(f"{head:>27}" for head in heads))
    empty = levels[0]
    rows = []  # (label, (value, ratio to the empty book) per level, higher is better)
    for index, run in enumerate(empty["place"]):
        label = f"order_place {run['markets']} mkt x {run['workers']} wkr"
        for name, unit, higher_better in (("orders_per_s", "orders/s", True), ("p50_ms", "p50 ms", False),
                                          ("p99_ms", "p99 ms", False)):
            cells = [(lv["place"][index][name], lv["ratios"]["place"][index][name]) for lv in levels]
            rows.append((f"    {label}, {unit}", cells, higher_better))
    for name in empty["reads"]:
        if not name.startswith("_"):
            rows.append((f"    {name}, ms", [(lv["reads"][name], lv["ratios"]["reads"][name]) for lv in levels], False))
    verdicts = []
    for label, cells, higher_better in rows:
        texts = []
        for value, ratio in cells:
            worse = ratio < 1 - WORSE if higher_better else ratio > 1 + WORSE
            texts.append(f"{value:>10.{0 if higher_better else 2}f} {ratio:>6.2f}{'!' if worse else ' ':<1}")
        print(f"{label:<40}" + "".join(f"{text:>27}" for text in texts))
        if "p99" not in label:  # p99 over a few seconds on a shared machine is noise; shown, not judged
            last = cells[-1][1]
            worse = last < 1 - WORSE if higher_better else last > 1 + WORSE
            verdicts.append((f"growth: {label.strip()} at the big level within 20 % of empty", not worse, last))
    levels_line = ", ".join(f"{lv['reads']['_levels']}" for lv in levels)
    print(f"    (value over all turns; ratio to the empty book: the median of the rounds' ratios, the levels taking turns "
          f"within a round;\n     ! = more than 20 % worse.\n     Book snapshot levels returned: {levels_line})")
    seeds = ", ".join(f"{lv['seed_s']:.0f} s" for lv in levels)
    audits = [f"{lv['resting']:,} resting / {lv['trades']:,} trades in {lv['audit_s']:.0f} s" for lv in levels
              if "audit_s" in lv]
    print(f"    seeded in SQL in {seeds}; manage.py audit, all invariants hold: {'; '.join(audits) or 'not run'}")
    return verdicts


if __name__ == "__main__":
    main()
