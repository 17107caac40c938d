"""What the ASGI server and Django cost per HTTP request before any view work: requests per second and uvicorn's
CPU per request for GET /api/v1/time (no database, no signature), with concurrent clients.

    .venv/bin/python bench/request_overhead.py [--requests 3000] [--clients 8] [--root PATH ...]

Each `--root` is a checkout to serve (e.g. a `git worktree` of an older commit); several are measured in turns,
twice each, so two versions can be compared in one run on a noisy machine. The load comes from this process
(asyncio + httpx); the CPU figure counts only the uvicorn process.
"""

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from api_latency import process_tree_cpu  # noqa: E402

PATH = "/api/v1/time"


async def _load(url: str, requests: int, clients: int) -> None:
    import httpx

    remaining = requests

    async def client(http):
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            response = await http.get(PATH)
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))


def measure(root: str, requests: int, clients: int) -> tuple[float, float]:
    """(requests per second, uvicorn CPU ms per request) for one checkout."""
    common.ROOT = Path(root).resolve()  # uvicorn's working directory: the code it serves
    env = {"API_RATE_IP": "10000000/min"}  # the rate limit would answer most of these with 429
    cache_url = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
    if cache_url:
        env["CACHE_URL"] = cache_url
    with common.Uvicorn(workers=1, env=env) as server:
        asyncio.run(_load(server.url, requests // 5, clients))  # warm up
        cpu_before, started = process_tree_cpu(server.process.pid), time.perf_counter()
        asyncio.run(_load(server.url, requests, clients))
        elapsed = time.perf_counter() - started
        cpu = process_tree_cpu(server.process.pid) - cpu_before
    return requests / elapsed, cpu / requests * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--root", action="append", help="a checkout to serve (repeatable; default: this one)")
    args = parser.parse_args()
    roots = args.root or [str(common.ROOT)]
    print(f"GET {PATH}, {args.requests} requests from {args.clients} clients, 1 uvicorn process; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'checkout':40} {'req/s':>7} {'uvicorn CPU ms/req':>19}")
    for _ in range(2):
        for root in roots:
            per_second, cpu_ms = measure(root, args.requests, args.clients)
            print(f"{root:40} {per_second:7.0f} {cpu_ms:19.2f}", flush=True)


if __name__ == "__main__":
    main()
