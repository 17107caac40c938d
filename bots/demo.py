"""The living demo: serve the exchange and run both example bots against it, stopping them with the server.

    python -m bots.demo --url http://127.0.0.1:8000 -- uvicorn exchange.asgi:application --port 8000 --lifespan off

This is what `make run` does, after `manage.py demo_data` has written the bots' API keys to var/demo_bots.json.
The runner starts the server command, waits until the API answers, then starts the market maker and the taker
(their logs go to var/demo-maker.log and var/demo-taker.log). On SIGINT/SIGTERM it stops the bots first — they
cancel their orders while the server still answers — and then the server. If the server stops by itself the bots
are stopped too, and a bot that dies never takes the server down. With DEMO_BOTS=0 it only runs the server.

Each child also gets the kernel's promise (Linux PR_SET_PDEATHSIG) of a SIGTERM should the runner itself be
killed outright, so no bot keeps trading against a server that is gone.
"""

import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_GRACE_SECONDS = 10


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux for SIGTERM when the runner dies (a no-op elsewhere)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass


def start(command: list[str], *, env: dict | None = None, log_path: Path | None = None) -> subprocess.Popen:
    # A session of its own: Ctrl-C reaches the runner only, which then stops the children in the right order.
    output = open(log_path, "a") if log_path else None  # noqa: SIM115 - the child owns it for its life
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT if output else None,
                            start_new_session=True, preexec_fn=_die_with_parent)


def stop(process: subprocess.Popen, name: str) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"demo: {name} did not stop in {STOP_GRACE_SECONDS} s; killing it", flush=True)
            process.kill()
            process.wait()


def wait_until_serving(url: str, server: subprocess.Popen, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/time", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.3)
    return False


def bot_commands(args) -> dict[str, list[str]]:
    common = ["--url", args.url, "--market", args.market]
    return {
        "maker": [sys.executable, "-m", "bots.market_maker", *common, "--spread", args.spread, "--size", args.size],
        "taker": [sys.executable, "-m", "bots.taker", *common, "--rate", args.rate, "--size", args.size],
    }


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description="Serve the exchange with the example bots trading against it.")
    cli.add_argument("--url", default="http://127.0.0.1:8000", help="where the server command listens")
    cli.add_argument("--market", default="GOLD-BUCK")
    cli.add_argument("--keys", type=Path, default=ROOT / "var" / "demo_bots.json",
                     help="the bots' API keys, as `manage.py demo_data` writes them")
    cli.add_argument("--logs", type=Path, default=ROOT / "var", help="folder for the bots' logs")
    cli.add_argument("--rate", default="1", help="the taker's orders per second")
    cli.add_argument("--spread", default="1.0", help="the market maker's spread, percent")
    cli.add_argument("--size", default="1", help="the bots' order size, in base")
    cli.add_argument("server", nargs="+", help="the server command, after --")
    args = cli.parse_args(argv)

    stopping = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.append(True))
    server = start(args.server)
    bots: dict[str, subprocess.Popen] = {}
    try:
        if os.environ.get("DEMO_BOTS", "1").strip().lower() in ("0", "false", "no", "off"):
            print("demo: DEMO_BOTS=0, serving without bots", flush=True)
        elif not wait_until_serving(args.url, server):
            print(f"demo: the server did not answer at {args.url}; not starting the bots", flush=True)
        else:
            keys = json.loads(args.keys.read_text())
            args.logs.mkdir(parents=True, exist_ok=True)
            for name, command in bot_commands(args).items():
                env = {**os.environ, "EXCHANGE_API_KEY": keys[name]["key"], "EXCHANGE_API_SECRET": keys[name]["secret"]}
                bots[name] = start(command, env=env, log_path=args.logs / f"demo-{name}.log")
            print(f"demo: the market maker ({keys['maker']['username']}) and the taker ({keys['taker']['username']}) "
                  f"trade {args.market}; logs in {args.logs}/demo-maker.log and demo-taker.log. "
                  f"Open {args.url} (DEMO_BOTS=0 make run: no bots).", flush=True)
        while server.poll() is None and not stopping:
            for name, bot in list(bots.items()):
                if bot.poll() is not None:
                    print(f"demo: the {name} bot exited with {bot.returncode}; see its log", flush=True)
                    del bots[name]
            time.sleep(0.2)
    finally:
        for name, bot in bots.items():  # first, while the server can still take their cancels
            stop(bot, name)
        stop(server, "the server")
    return server.returncode if server.returncode and server.returncode > 0 else 0


if __name__ == "__main__":
    sys.exit(main())
