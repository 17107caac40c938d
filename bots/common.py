"""What both bots share: the command line, credentials from the environment, logging, and a clean stop."""

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from exchange_client import AsyncClient, ExchangeError

log = logging.getLogger("bots")


def parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description + " Credentials come from the environment: "
                                     "EXCHANGE_API_KEY (the key id) and EXCHANGE_API_SECRET.")
    parser.add_argument("--url", default=os.environ.get("EXCHANGE_URL", "http://127.0.0.1:8000"),
                        help="the exchange (default: $EXCHANGE_URL or http://127.0.0.1:8000)")
    parser.add_argument("--market", default="GOLD-BUCK", help="market symbol (default GOLD-BUCK)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def credentials() -> tuple[str, str]:
    key, secret = os.environ.get("EXCHANGE_API_KEY"), os.environ.get("EXCHANGE_API_SECRET")
    if not key or not secret:
        sys.exit("Set EXCHANGE_API_KEY and EXCHANGE_API_SECRET (create a key with the read and trade scopes at /account/api-keys/).")
    return key, secret


def run(name: str, level: str, main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run `main(stop)` until it returns; SIGINT or SIGTERM sets `stop`, so the bot can tidy up before it exits."""
    logging.basicConfig(level=level, format=f"%(asctime)s {name} %(levelname)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the bot's own story

    async def guarded() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await main(stop)

    asyncio.run(guarded())


async def until_stopped(stop: asyncio.Event, *workers: Awaitable[None]) -> None:
    """Run the workers until `stop` is set or one of them fails (its exception is raised here)."""
    tasks = [asyncio.ensure_future(worker) for worker in workers]
    stopper = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper:
                task.result()  # raises what the worker raised; a worker that simply ended is fine
    finally:
        for task in (stopper, *tasks):
            task.cancel()
        await asyncio.gather(stopper, *tasks, return_exceptions=True)


# A request the server has received is carried out whether or not the bot still waits for its answer. A bot
# stopped mid-request (until_stopped cancels its workers) would otherwise cancel its orders before that order was
# placed, and leave it open. Requests that change the book go through `unabandoned`, and the cancel on the way out
# waits for them.
_changing: set[asyncio.Future] = set()


async def unabandoned(request: Awaitable):
    """Await the request; if the caller is cancelled meanwhile, the request still runs to its answer."""
    task = asyncio.ensure_future(request)
    _changing.add(task)
    task.add_done_callback(_changing.discard)
    return await asyncio.shield(task)


async def cancel_everything(client: AsyncClient, symbol: str) -> None:
    """Cancel the bot's orders in the market on the way out, once every request that changes the book has been
    answered (logged, never raised: the bot is stopping anyway)."""
    if _changing:
        await asyncio.wait(set(_changing), timeout=client.timeout)
    try:
        cancelled = await client.cancel_all(symbol)
    except ExchangeError as error:
        log.error("could not cancel my orders in %s: %s", symbol, error)
    else:
        log.info("stopped: cancelled %d open orders in %s", len(cancelled), symbol)
