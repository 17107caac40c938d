"""A realistic trading history in seconds: a random walk of trades between two users, written in bulk.

Every trade is a real one as far as the ledger can tell — a filled maker and taker order, a balanced journal
entry with both legs, candles — so the audit holds afterwards. It only runs on a market with no trades yet, so
the history's times and ids keep the same order.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from exchange.errors import Conflict, InsufficientFunds
from ledger import services as ledger
from ledger.models import Account, JournalEntry
from markets.models import Candle, Market, Order, Trade


@dataclass(frozen=True)
class SimulatedTrade:
    time: datetime
    price: int
    quantity: int
    buyer_is_a: bool
    taker_buys: bool


def random_walk(*, market: Market, start_price: int, trades: int, days: float, end: datetime, seed: int):
    """Trades spread over `days` before `end`, prices a random walk on the market's tick grid that leans back
    towards the starting price once it strays more than 5 % from it."""
    rng = random.Random(seed)
    span = timedelta(days=days).total_seconds()
    times = sorted(end - timedelta(seconds=rng.random() * span) for _ in range(trades))
    start = max(market.tick, start_price // market.tick * market.tick)
    price = start
    for moment in times:
        step = rng.choice((-2, -1, -1, 0, 0, 1, 1, 2)) * market.tick
        if abs(price - start) * 20 > start:  # more than 5 % away: lean back, so the price stays plausible
            step += market.tick if price < start else -market.tick
        price = max(market.tick, price + step)
        quantity = market.min_quantity + market.lot * int(rng.expovariate(1 / 4))
        yield SimulatedTrade(moment, price, quantity, rng.random() < 0.5, rng.random() < 0.5)


@transaction.atomic(durable=True)
def simulate_history(*, market: Market, user_a, user_b, start_price: int, trades: int, days: float, seed: int = 7) -> int:
    """Write `trades` past trades between user_a and user_b on `market`; return how many were written."""
    market = Market.objects.select_for_update(of=("self",)).select_related("base", "quote").get(pk=market.pk)
    if Trade.objects.filter(market=market).exists():
        raise Conflict(f"{market.symbol} has trades already; history is only simulated on a fresh market.")
    for user in (user_a, user_b):
        for currency in (market.base, market.quote):
            ledger.account_for(user=user, currency=currency)
    locked = Account.objects.select_for_update(of=("self",)).filter(
        kind="user", user__in=(user_a, user_b), currency__in=(market.base, market.quote)
    ).order_by("pk")
    accounts = {(a.user_id, a.currency_id): a for a in locked}
    scale = 10**market.base.decimals
    walk = list(random_walk(market=market, start_price=start_price, trades=trades, days=days, end=timezone.now(), seed=seed))

    orders, entries, trade_rows = [], [], []
    for t in walk:
        buyer, seller = (user_a, user_b) if t.buyer_is_a else (user_b, user_a)
        quote_amount = t.quantity * t.price // scale
        taker, maker = (buyer, seller) if t.taker_buys else (seller, buyer)
        for user, side in ((maker, "buy" if not t.taker_buys else "sell"), (taker, "buy" if t.taker_buys else "sell")):
            orders.append(
                Order(market=market, user=user, side=side, type="limit", price=t.price, quantity=t.quantity,
                      filled_quantity=t.quantity, filled_quote=quote_amount, status="filled", created_at=t.time,
                      updated_at=t.time)
            )
        entries.append([
            (accounts[(buyer.pk, market.quote_id)], -quote_amount),
            (accounts[(seller.pk, market.quote_id)], quote_amount),
            (accounts[(seller.pk, market.base_id)], -t.quantity),
            (accounts[(buyer.pk, market.base_id)], t.quantity),
        ])
        trade_rows.append(Trade(market=market, price=t.price, quantity=t.quantity, quote_amount=quote_amount,
                                taker_side="buy" if t.taker_buys else "sell", buyer=buyer, seller=seller, created_at=t.time))
    orders = Order.objects.bulk_create(orders, batch_size=2000)
    journal = ledger.journal_write(kind=JournalEntry.Kind.TRADE, entries=entries)
    if any(a.balance < a.held for a in accounts.values()):
        raise InsufficientFunds("The two users do not hold enough to trade this history; fund them more.")
    for index, (trade, entry) in enumerate(zip(trade_rows, journal, strict=True)):
        trade.maker_order, trade.taker_order, trade.entry = orders[2 * index], orders[2 * index + 1], entry
    Trade.objects.bulk_create(trade_rows, batch_size=2000)
    # auto_now_add stamped the orders and entries with today; give them their trade's time.
    Order.objects.bulk_update(orders, ["created_at", "updated_at"], batch_size=2000)
    for entry, t in zip(journal, walk, strict=True):
        entry.created_at = t.time
    JournalEntry.objects.bulk_update(journal, ["created_at"], batch_size=2000)
    ledger.accounts_save(accounts.values())
    Candle.objects.bulk_create(_candles(market, walk, scale), batch_size=2000)
    return len(walk)


def _candles(market: Market, walk: list[SimulatedTrade], scale: int) -> list[Candle]:
    candles: dict[datetime, Candle] = {}
    for t in walk:
        minute = t.time.replace(second=0, microsecond=0)
        quote_amount = t.quantity * t.price // scale
        candle = candles.get(minute)
        if candle is None:
            candles[minute] = Candle(market=market, start=minute, open=t.price, high=t.price, low=t.price,
                                     close=t.price, volume=t.quantity, quote_volume=quote_amount, trades=1)
        else:
            candle.high, candle.low = max(candle.high, t.price), min(candle.low, t.price)
            candle.close = t.price
            candle.volume += t.quantity
            candle.quote_volume += quote_amount
            candle.trades += 1
    return list(candles.values())
