"""Place random orders and cancels in one market, from a process of its own (the end-to-end feed test runs two).

Usage: python -m tests.realtime.e2e_trader SYMBOL USER_ID[,USER_ID...] COUNT SEED — prints what it did as JSON.
"""

import json
import os
import random
import sys


def main(symbol: str, user_ids: list[int], count: int, seed: int) -> dict:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exchange.settings.test")
    django.setup()
    from django.contrib.auth.models import User

    from exchange.errors import DomainError
    from markets import services
    from markets.models import OPEN_STATUSES, Market, Order
    from markets.services import OrderRequest

    rng = random.Random(seed)
    market = Market.objects.get(symbol=symbol)
    users = list(User.objects.filter(pk__in=user_ids))
    done = {"placed": 0, "cancelled": 0, "refused": 0}
    for _ in range(count):
        user = rng.choice(users)
        try:
            if rng.random() < 0.25:
                order_id = (
                    Order.objects.filter(market=market, user=user, status__in=OPEN_STATUSES)
                    .order_by("?")
                    .values_list("pk", flat=True)
                    .first()
                )
                if order_id is not None:
                    services.order_cancel(user=user, order_id=order_id)
                    done["cancelled"] += 1
                    continue
            side = rng.choice(["buy", "sell"])
            quantity = rng.randint(1, 10) * market.lot
            if rng.random() < 0.1:  # a market order now and then
                request = OrderRequest(side=side, type="market", quantity=quantity if side == "sell" else None,
                                       quote_budget=None if side == "sell" else rng.randint(1, 50) * 100)
            else:
                price = rng.randint(230, 270) * market.tick  # 23.00 .. 27.00 around 25.00
                request = OrderRequest(side=side, type="limit", quantity=quantity, price=price,
                                       time_in_force=rng.choice(["gtc", "gtc", "gtc", "ioc"]))
            services.order_place(user=user, market_id=market.pk, request=request)
            done["placed"] += 1
        except DomainError:
            done["refused"] += 1
    return done


if __name__ == "__main__":
    symbol, ids, count, seed = sys.argv[1:5]
    print(json.dumps(main(symbol, [int(i) for i in ids.split(",")], int(count), int(seed))))
