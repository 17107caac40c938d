"""Market reads: markets, books, trades, tickers, candles. No writes here."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from exchange.errors import NotFound, ValidationFailed
from ledger.models import Currency
from markets import store
from markets.models import OPEN_STATUSES, BookLevel, Candle, Market, Order, Trade

INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
MAX_DEPTH = 500
MAX_CANDLES = 1000


def market_get(*, symbol: str) -> Market:
    market = store.market_by_symbol(symbol)  # every order request asks: one plain statement
    if market is None:
        raise NotFound(f"There is no market {symbol[:25]}.", fields={"market": ["No such market."]})
    return market


# What an order request reads of its market before the order path locks it: the key, and the currencies' codes and
# decimals (to read its amounts and write its answer). A symbol keeps its market and a currency its decimals, so each
# process keeps what it read, saving a statement that was ~9 % of an order request's CPU (bench/code_ab.py --rest).
# The order path reads the market again under its lock and refuses a request whose symbol is not that market's
# (OrderRequest.market): a copy out of date (a database restored under running servers; tests making GOLD-BUCK
# again and again) can cost a retry, never an order in the wrong market. Cleared when this process saves a market.
_markets_for_orders: dict[str, Market] = {}


def market_for_order(*, symbol: str, fresh: bool = False) -> Market:
    """The market an order request names, perhaps as this process read it earlier (`fresh`: read it again): use
    only its key, symbol and currencies, and name the symbol in the OrderRequest."""
    market = None if fresh else _markets_for_orders.get(symbol)
    if market is None:
        market = _markets_for_orders[symbol] = market_get(symbol=symbol)
    return market


@receiver(post_save, sender=Market)
@receiver(post_delete, sender=Market)
def _forget_markets_for_orders(**kwargs) -> None:
    _markets_for_orders.clear()


def market_list() -> QuerySet[Market]:
    return Market.objects.select_related("base", "quote").order_by("symbol")


def markets_with_currency(*, currency: Currency) -> QuerySet[Market]:
    return market_list().filter(Q(base=currency) | Q(quote=currency))


@dataclass(frozen=True)
class BookSnapshot:
    sequence: int
    bids: list[tuple[int, int]]  # (price, total quantity), best first
    asks: list[tuple[int, int]]


def book_snapshot(*, market: Market, depth: int = 50) -> BookSnapshot:
    """The level-2 book with the sequence it reflects, read under the market row lock.

    The lock waits for an order being settled to commit and keeps the next one out for the few milliseconds the
    levels take to read, so the sequence and the levels always belong together (see realtime/consumers.py).
    """
    depth = max(1, min(depth, MAX_DEPTH))
    with transaction.atomic():
        sequence = Market.objects.filter(pk=market.pk).select_for_update().values_list("sequence", flat=True).get()
        levels = BookLevel.objects.filter(market=market).values_list("price", "quantity")
        bids = list(levels.filter(side="buy").order_by("-price")[:depth])
        asks = list(levels.filter(side="sell").order_by("price")[:depth])
    return BookSnapshot(sequence=sequence, bids=bids, asks=asks)


def recent_trades(*, market: Market, limit: int = 50) -> QuerySet[Trade]:
    return Trade.objects.filter(market=market).order_by("-id")[: max(1, min(limit, 1000))]


@dataclass(frozen=True)
class Ticker:
    market: Market
    last: int | None
    best_bid: int | None
    best_ask: int | None
    open: int | None  # 24 h ago
    high: int | None
    low: int | None
    volume: int  # base, 24 h
    quote_volume: int

    @property
    def change_bps(self) -> int | None:
        if self.last is None or not self.open:
            return None
        return (self.last - self.open) * 10_000 // self.open


def ticker(*, market: Market, now: datetime | None = None) -> Ticker:
    return tickers(markets=[market], now=now)[market.pk]


def tickers(*, markets: list[Market], now: datetime | None = None) -> dict[int, Ticker]:
    """24-hour tickers for many markets in two queries, from the one-minute candles (bounded work however long
    the history)."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    ids = [market.pk for market in markets]
    window = Candle.objects.filter(market_id__in=ids, start__gte=since)
    stats = {
        row["market_id"]: row
        for row in window.values("market_id").annotate(
            high=Max("high"), low=Min("low"), volume=Sum("volume"), quote_volume=Sum("quote_volume")
        )
    }
    result = {}
    # The day's opening price, the last price and the best bid and ask of every market in one query, each an index
    # lookup (not a sort of the day's candles).
    levels = BookLevel.objects.filter(market=OuterRef("pk"))
    day = Candle.objects.filter(market=OuterRef("pk"), start__gte=since)
    prices = {
        pk: (opening, last, bid, ask)
        for pk, opening, last, bid, ask in Market.objects.filter(pk__in=ids)
        .annotate(
            opening=Subquery(day.order_by("start").values("open")[:1]),
            last=Subquery(Trade.objects.filter(market=OuterRef("pk")).order_by("-id").values("price")[:1]),
            bid=Subquery(levels.filter(side="buy").order_by("-price").values("price")[:1]),
            ask=Subquery(levels.filter(side="sell").order_by("price").values("price")[:1]),
        )
        .values_list("pk", "opening", "last", "bid", "ask")
    }
    for market in markets:
        opening, last, best_bid, best_ask = prices[market.pk]
        row = stats.get(market.pk, {})
        result[market.pk] = Ticker(
            market=market,
            last=last,
            best_bid=best_bid,
            best_ask=best_ask,
            open=opening,
            high=row.get("high"),
            low=row.get("low"),
            volume=row.get("volume") or 0,
            quote_volume=row.get("quote_volume") or 0,
        )
    return result


@dataclass(frozen=True)
class Bar:
    start: datetime
    open: int
    high: int
    low: int
    close: int
    volume: int
    quote_volume: int
    trades: int


def candles(
    *, market: Market, interval: str, start: datetime | None = None, end: datetime | None = None, limit: int = 500
) -> list[Bar]:
    """OHLCV bars rolled up from one-minute candles, oldest first; at most `limit`, the latest ones by default."""
    if interval not in INTERVALS:
        raise ValidationFailed(fields={"interval": [f"Use one of {', '.join(INTERVALS)}."]})
    limit = max(1, min(limit, MAX_CANDLES))
    seconds = INTERVALS[interval]
    end = end or timezone.now()
    start = start or end - timedelta(seconds=seconds * limit)
    if start > end:
        raise ValidationFailed(fields={"start": ["Start must come before end."]})
    minutes = Candle.objects.filter(market=market, start__gte=_floor(start, seconds), start__lte=end).order_by("start")
    bars: list[Bar] = []
    for minute in minutes.iterator(chunk_size=2000):
        bucket = _floor(minute.start, seconds)
        if bars and bars[-1].start == bucket:
            bar = bars[-1]
            bars[-1] = Bar(
                start=bucket,
                open=bar.open,
                high=max(bar.high, minute.high),
                low=min(bar.low, minute.low),
                close=minute.close,
                volume=bar.volume + minute.volume,
                quote_volume=bar.quote_volume + minute.quote_volume,
                trades=bar.trades + minute.trades,
            )
        else:
            bars.append(
                Bar(bucket, minute.open, minute.high, minute.low, minute.close, minute.volume, minute.quote_volume, minute.trades)
            )
    return bars[-limit:]


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=moment.tzinfo or timezone.utc)


def orders_for(*, user: User, market: Market | None = None, open_only: bool | None = None) -> QuerySet[Order]:
    orders = Order.objects.filter(user=user).select_related("market__base", "market__quote").order_by("-id")
    if market is not None:
        orders = orders.filter(market=market)
    if open_only is True:
        orders = orders.filter(status__in=OPEN_STATUSES)
    elif open_only is False:
        orders = orders.exclude(status__in=OPEN_STATUSES)
    return orders


def fills_for(*, user: User, market: Market | None = None) -> QuerySet[Trade]:
    trades = Trade.objects.filter(Q(buyer=user) | Q(seller=user)).select_related("market__base", "market__quote")
    if market is not None:
        trades = trades.filter(market=market)
    return trades.order_by("-id")
