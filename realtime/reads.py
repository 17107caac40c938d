"""Database reads for the feed, shaped as the messages it sends. Synchronous: consumers call them in a thread.

Ticker and candle messages are computed once per process per book sequence and shared by every subscriber in
the process (`shared`), so a thousand subscribers to one market cost one set of queries per update, not a thousand.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import Max

from exchange.errors import NotFound
from markets import selectors
from markets.events import candle_payload, ticker_payload, trade_payload
from markets.models import Market, Trade
from realtime.frames import encode

# A subscriber that lost more trades than this while resynchronising gets the latest ones only.
MAX_TRADE_BACKFILL = 1000


def market_for(symbol: str) -> Market | None:
    try:
        return selectors.market_get(symbol=symbol)
    except NotFound:
        return None


@dataclass(frozen=True)
class MarketState:
    """A market as of one book sequence: the snapshot message, the trades since `after_trade_id`, the last trade."""

    sequence: int
    snapshot: dict
    trades: list[dict]
    last_trade_id: int

    # Encoded on first use and kept: every subscriber that resynchronises from this state sends the same text.
    @cached_property
    def snapshot_frame(self) -> str:
        return encode(self.snapshot)

    @cached_property
    def trade_frames(self) -> list[str]:
        return [encode({"type": "trade", **trade}) for trade in self.trades]


def market_state(*, market: Market, depth: int, after_trade_id: int | None) -> MarketState:
    """Read the book, its sequence and the trades after `after_trade_id` together, under the market row lock.

    book_snapshot takes the lock; the outer transaction keeps it until the trades are read too, so no settlement
    can commit in between: the trades read are exactly those up to the snapshot's sequence.
    """
    with transaction.atomic():
        snapshot = selectors.book_snapshot(market=market, depth=depth)
        trades = Trade.objects.filter(market=market)
        last_trade_id = trades.aggregate(last=Max("id"))["last"] or 0
        missed = []
        if after_trade_id is not None:
            missed = list(trades.filter(id__gt=after_trade_id).order_by("-id")[:MAX_TRADE_BACKFILL])[::-1]
    base, quote = market.base, market.quote
    levels = lambda rows: [[quote.format(price), base.format(quantity)] for price, quantity in rows]  # noqa: E731
    return MarketState(
        sequence=snapshot.sequence,
        snapshot={
            "type": "book.snapshot",
            "market": market.symbol,
            "sequence": snapshot.sequence,
            "bids": levels(snapshot.bids),
            "asks": levels(snapshot.asks),
        },
        trades=[trade_payload(trade, market) for trade in missed],
        last_trade_id=last_trade_id,
    )


def ticker_message(market: Market) -> dict:
    return ticker_message_from(selectors.ticker(market=market))


def ticker_message_for(symbol: str) -> dict | None:
    market = market_for(symbol)
    return None if market is None else ticker_message(market)


def ticker_messages_all() -> list[dict]:
    markets = list(selectors.market_list())
    tickers = selectors.tickers(markets=markets)
    return [ticker_message_from(tickers[market.pk]) for market in markets]


def ticker_message_from(ticker: selectors.Ticker) -> dict:
    return {"type": "ticker", **ticker_payload(ticker)}


def candle_message(market: Market, interval: str) -> dict | None:
    """The latest bar of `interval` (None before the market's first trade in the window)."""
    bars = selectors.candles(market=market, interval=interval, limit=1)
    if not bars:
        return None
    return {"type": "candle", "market": market.symbol, "interval": interval, **candle_payload(bars[-1], market)}


# (what, market, interval) -> (event loop, book sequence it was computed after, the computation)
_shared: dict[tuple, tuple[asyncio.AbstractEventLoop, int, asyncio.Future]] = {}


async def shared(key: tuple, sequence: int, compute: Callable[[], str | None]) -> str | None:
    """`compute()` read after update `sequence` was committed, at most once per process and sequence.

    The feed's computations return encoded frames, so the text is made once too.

    A result computed for a later sequence serves an earlier one too: it is newer, and that is what a ticker wants.
    """
    loop = asyncio.get_running_loop()
    cached = _shared.get(key)
    if cached is None or cached[0] is not loop or cached[1] < sequence or _failed(cached[2]):
        cached = _shared[key] = (loop, sequence, loop.create_task(database_sync_to_async(compute)()))
    return await asyncio.shield(cached[2])  # one subscriber leaving must not cancel the others' result


def _failed(task: asyncio.Future) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
