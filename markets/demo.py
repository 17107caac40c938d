"""Demo markets and a few resting orders, so the first page a newcomer opens has a book."""

from markets import services
from markets.models import Market


def create_demo_markets(*, users, currencies) -> list[Market]:
    markets = []
    for base, quote in (("GOLD", "BUCK"), ("HOUR", "BUCK"), ("GOLD", "HOUR")):
        markets.append(
            services.market_create(user=users["alice"], base=currencies[base], quote=currencies[quote], taker_fee_bps=10)
        )
    return markets
