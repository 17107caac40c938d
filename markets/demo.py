"""Demo markets with a few days of history and a few resting orders, so the first page a newcomer opens has a
chart, a tape and a book."""

from ledger.money import parse_amount
from markets import services
from markets.models import OPEN_STATUSES, Market, Order
from markets.services import OrderRequest
from markets.simulate import simulate_history

# Where each demo market's book starts (quote per one base); the bots trade around it (bots/, docs/bots.md).
DEMO_PRICES = {"GOLD-BUCK": "25.00", "HOUR-BUCK": "12.50", "GOLD-HOUR": "2.0"}
SEED_LEVELS = 3  # resting orders per side
SEED_STEP_PERCENT = 3  # between levels, and from the starting price to the first one
HISTORY = {"GOLD-BUCK": 3000, "HOUR-BUCK": 1500}  # simulated past trades (GOLD-HOUR's coarse tick would look odd)
HISTORY_DAYS = 3


def create_demo_markets(*, users, currencies) -> list[Market]:
    markets = []
    for base, quote in (("GOLD", "BUCK"), ("HOUR", "BUCK"), ("GOLD", "HOUR")):
        markets.append(
            services.market_create(user=users["alice"], base=currencies[base], quote=currencies[quote], taker_fee_bps=10)
        )
    for market in markets:
        if market.symbol in HISTORY:
            simulate_history(
                market=market,
                user_a=users["alice"],
                user_b=users["bob"],
                start_price=parse_amount(DEMO_PRICES[market.symbol], market.quote.decimals),
                trades=HISTORY[market.symbol],
                days=HISTORY_DAYS,
            )
    return markets


def seed_resting_orders(*, user) -> int:
    """Give every demo market a few resting orders of `user` on each side, unless the user has some there already.

    Returns how many orders were placed. Each level holds about two whole units of the base currency.
    """
    placed = 0
    for market in Market.objects.filter(symbol__in=DEMO_PRICES).select_related("base", "quote"):
        if Order.objects.filter(user=user, market=market, status__in=OPEN_STATUSES).exists():
            continue
        middle = parse_amount(DEMO_PRICES[market.symbol], market.quote.decimals)
        step = max(market.tick, middle * SEED_STEP_PERCENT // 100 // market.tick * market.tick)
        quantity = max(market.min_quantity, 2 * 10**market.base.decimals // market.lot * market.lot)
        for level in range(1, SEED_LEVELS + 1):
            for side, price in (("buy", middle - level * step), ("sell", middle + level * step)):
                if price > 0:
                    request = OrderRequest(side=side, type="limit", quantity=quantity, price=price)
                    services.order_place(user=user, market_id=market.pk, request=request)
                    placed += 1
    return placed
