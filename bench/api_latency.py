"""REST end to end: orders per second and p50/p99 latency of POST /api/v1/orders with signed API keys.

    .venv/bin/python bench/api_latency.py [--seconds 5] [--clients 8] [--workers 1,2] [--writers 1]
        [--database bench_rest] [--root PATH] [--json]

The database is dropped and created afresh: one market per server configuration (so each starts with an empty
book) and one funded trader with its own API key per client. For each configuration uvicorn serves the exchange
with that many worker processes, and the load comes from two other processes, each running half of the clients
concurrently (asyncio + httpx, every request signed anew). Prices straddle 100.00 so about half the orders trade.
Latency is what the client sees: signing, HTTP, the view, the service and the commit. Server CPU is what the
uvicorn processes spent (user + system) during the load, per request. Right before each load, pgbench's
settlement ceiling (common.pgbench_ceiling) is measured with as many clients, the reference of its ratio.

As in production, the workers share one cache (signature replay records, throttles): CACHE_URL, or else
REDIS_URL. `--root` serves another checkout (e.g. a `git worktree` of an older commit), so two versions can be
measured side by side in one run.
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

LOAD_PROCESSES = 2


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and all its descendants (Linux /proc)."""
    parents, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited meanwhile
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent and child not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(cpu.get(member, 0.0) for member in tree)


def setup_data(database: str, *, markets: int, clients: int) -> tuple[list[str], list[tuple[str, str]]]:
    """A fresh exchange; return the market symbols and one (key id, secret) per client."""
    ids = common.fresh_exchange(database, market_count=markets, traders=clients)
    from django.contrib.auth.models import User

    from api import keys
    from markets.models import Market

    credentials = []
    for user in User.objects.filter(pk__in=ids["traders"]).order_by("pk"):
        key, secret = keys.key_create(user=user, name="bench", scopes=["read", "trade"])
        credentials.append((key.key_id, secret))
    symbols = [Market.objects.get(pk=pk).symbol for pk in ids["markets"]]
    return symbols, credentials


def order_body(symbol: str, rng: random.Random) -> bytes:
    """A limit order of the mix (common.order_mix) as a bot posts it to /api/v1/orders, in setup_data's markets."""
    side, price, quantity = common.order_mix(rng, 10, 10)  # tick 0.10 and lot 0.10 at 2 decimals
    return json.dumps({"market": symbol, "side": side, "type": "limit", "quantity": f"{quantity / 100:.2f}",
                       "price": f"{price / 100:.2f}"}).encode()


def load_process(url, symbol, credentials, start_at, seconds, seed, results):
    """Run one concurrent client per credential from `start_at` for `seconds`; put what they saw on `results`."""
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    outcome = asyncio.run(_clients(url, symbol, credentials, start_at, seconds, seed))
    results.put(outcome)


async def _clients(url, symbol, credentials, start_at, seconds, seed):
    import httpx

    from exchange_client.signing import signed_headers

    latencies, errors, traded = [], {}, 0

    async def client(key_id, secret, rng):
        nonlocal traded
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            await http.get("/api/v1/time")  # connect before the clock starts
            await asyncio.sleep(max(0.0, start_at - time.time()))
            deadline = start_at + seconds
            while time.time() < deadline:
                body = order_body(symbol, rng)
                started = time.perf_counter()
                headers = signed_headers(key_id, secret, "POST", "/api/v1/orders", body)
                response = await http.post("/api/v1/orders", content=body,
                                           headers={**headers, "Content-Type": "application/json"})
                latencies.append(time.perf_counter() - started)
                if response.status_code == 201:
                    traded += response.json()["filled_quantity"] not in ("0", "0.00")
                else:
                    code = response.json().get("error", {}).get("code", str(response.status_code))
                    errors[code] = errors.get(code, 0) + 1

    await asyncio.gather(*(client(k, s, random.Random(seed * 1000 + n)) for n, (k, s) in enumerate(credentials)))
    return latencies, errors, traded


def run_load(url: str, symbol: str, credentials, seconds: float) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 3  # time for the load processes to start and connect
    shares = [credentials[n::LOAD_PROCESSES] for n in range(LOAD_PROCESSES)]
    processes = [context.Process(target=load_process, args=(url, symbol, share, start_at, seconds, n, results))
                 for n, share in enumerate(shares) if share]
    gathered = common.run_processes(processes, results)
    latencies = sorted(latency for lat, _, _ in gathered for latency in lat)
    errors: dict[str, int] = {}
    for _, errs, _ in gathered:
        for code, count in errs.items():
            errors[code] = errors.get(code, 0) + count
    placed = len(latencies) - sum(errors.values())
    return {
        "requests": len(latencies),
        "orders_per_s": placed / seconds,
        "p50_ms": common.percentile(latencies, 0.50) * 1000,
        "p99_ms": common.percentile(latencies, 0.99) * 1000,
        "traded": sum(t for _, _, t in gathered) / max(placed, 1),
        "errors": errors,
    }


def measure(database: str, worker_counts: list[int], clients: int, seconds: float, writers: int = 0) -> list[dict]:
    """One row per uvicorn worker count, placing orders directly; with `writers`, once more through that many
    order writer processes (markets/writer.py), whose CPU counts as the server's."""
    configurations = [(workers, 0) for workers in worker_counts]
    configurations += [(workers, writers) for workers in worker_counts if writers]
    symbols, credentials = setup_data(database, markets=len(configurations), clients=clients)
    from markets.models import Market

    env = {key: os.environ[key] for key in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "API_RATE_KEY",
                                            "API_RATE_IP") if key in os.environ}
    env["DATABASE_POOL_SIZE"] = "4"
    cache_url = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
    if cache_url:
        env["CACHE_URL"] = cache_url  # production refuses to start without a shared cache
    rows = []
    for (workers, writer_count), symbol in zip(configurations, symbols, strict=True):
        via = f", {writer_count} order writer(s)" if writer_count else ""
        common.progress(f"(3) REST, uvicorn with {workers} worker process(es){via}, {clients} clients")
        with contextlib.ExitStack() as stack:
            server_env = dict(env)
            pids = []
            if writer_count:
                server_env["REDIS_URL"] = os.environ["REDIS_URL"]  # where orders queue for the writers
                market_ids = list(Market.objects.filter(symbol=symbol).values_list("pk", flat=True))
                pids += [p.pid for p in stack.enter_context(common.OrderWriters(writer_count, market_ids)).processes]
            server = stack.enter_context(common.Uvicorn(workers=workers, env=server_env))
            pids.append(server.process.pid)
            # The ceiling at the same client count, right before the load: the ratio's reference, seconds away.
            common.progress(f"(3) pgbench ceiling, {clients} clients, right before")
            ceiling_tps = common.pgbench_ceiling(database, clients, seconds)["tps"]
            cpu_before = sum(process_tree_cpu(pid) for pid in pids)
            row = run_load(server.url, symbol, credentials, seconds)
            cpu_ms = (sum(process_tree_cpu(pid) for pid in pids) - cpu_before) * 1000
        row["server_cpu_ms"] = cpu_ms / max(row["requests"], 1)
        rows.append({"workers": workers, "writers": writer_count, "clients": clients, "ceiling_tps": ceiling_tps, **row})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker processes, one run each")
    parser.add_argument("--writers", type=int, default=1, help="order writers for the writer rows (0: none)")
    parser.add_argument("--database", default="bench_rest")
    parser.add_argument("--root", default=str(common.ROOT), help="the checkout to serve (default: this one)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line (for run_all.py)")
    args = parser.parse_args()
    common.ROOT = Path(args.root).resolve()  # uvicorn's working directory: the code it serves
    sys.path.insert(0, str(common.ROOT))
    rows = measure(
        args.database, [int(n) for n in args.workers.split(",")], args.clients, args.seconds, args.writers
    )
    if args.json:
        common.emit_json(rows)
        return
    print(f"{'uvicorn workers':>15}{'writers':>8}{'clients':>8}{'orders/s':>10}{'ceiling':>9}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'CPU ms/req':>11}{'traded':>8}  errors")
    for row in rows:
        print(f"{row['workers']:>15}{row['writers']:>8}{row['clients']:>8}{row['orders_per_s']:>10.0f}"
              f"{row['ceiling_tps']:>9.0f}{row['p50_ms']:>9.1f}{row['p99_ms']:>9.1f}{row['server_cpu_ms']:>11.1f}"
              f"{row['traded']:>8.0%}  {row['errors'] or '-'}")
    print("ceiling: pgbench's settlement transactions per second with as many clients, measured right before the row")


if __name__ == "__main__":
    main()
