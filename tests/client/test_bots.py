"""The example bots' own logic, and the promise that the client and the bots need no Django."""

import subprocess
import sys
from decimal import Decimal

from bots.market_maker import MarketMaker
from exchange_client import Market
from tests.servers import ROOT

GOLD_HOUR = Market("GOLD-HOUR", "GOLD", "HOUR", Decimal("1.0"), Decimal("0.100"), Decimal("0.100"), 0, 10, "open",
                   1, 3)


def test_quotes_sit_on_the_tick_grid_one_tick_apart_at_least_and_never_cross():
    maker = MarketMaker(None, GOLD_HOUR, spread=Decimal("1.0"), size=Decimal("1.23"), levels=3)
    quotes = maker.quotes(Decimal("5.0"))  # a 1 % spread is far below the 1.0 HOUR tick here
    bids = [price for side, price in quotes if side == "buy"]
    asks = [price for side, price in quotes if side == "sell"]
    assert bids == [Decimal("4.0"), Decimal("3.0"), Decimal("2.0")]
    assert asks == [Decimal("6.0"), Decimal("7.0"), Decimal("8.0")]
    assert maker.size == Decimal("1.200")
    assert [side for side, _ in maker.quotes(Decimal("2.0"))].count("buy") == 1  # no quote at a price of zero


def test_the_client_and_the_bots_import_without_django():
    code = ("import sys, exchange_client, bots.market_maker, bots.taker, bots.demo; "
            "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=30)


async def test_a_bot_stopped_mid_order_cancels_after_the_server_has_placed_it():
    import asyncio

    from bots import common

    happened = []

    class Server:  # carries out a request it has received, whether or not the bot still waits for the answer
        timeout = 5.0

        async def place_order(self):
            return await asyncio.shield(asyncio.ensure_future(self._place()))  # the client going away stops nothing

        async def _place(self):
            await asyncio.sleep(0.2)
            happened.append("placed")

        async def cancel_all(self, symbol):
            happened.append("cancelled")
            return []

    server, stop = Server(), asyncio.Event()

    async def keep_trading():
        while True:
            await common.unabandoned(server.place_order())

    asyncio.get_running_loop().call_later(0.05, stop.set)  # mid-request
    await common.until_stopped(stop, keep_trading())
    await common.cancel_everything(server, "GOLD-HOUR")
    assert happened == ["placed", "cancelled"]
