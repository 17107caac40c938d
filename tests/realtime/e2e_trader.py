"""Place random orders and cancels in one market through the REST API of a served exchange, from a process of
its own (the end-to-end feed test runs two, both against the second server).

Usage: python -m tests.realtime.e2e_trader URL SYMBOL KEY:SECRET[,KEY:SECRET...] COUNT SEED — prints what it did
as JSON. Only the client package is used here: no Django, no database.
"""

import json
import random
import sys
from decimal import Decimal

from exchange_client import Client, ExchangeError


def main(url: str, symbol: str, credentials: list[tuple[str, str]], count: int, seed: int) -> dict:
    rng = random.Random(seed)
    clients = [Client(url, key=key, secret=secret) for key, secret in credentials]
    market = clients[0].market(symbol)
    lot, tick = Decimal(market.lot), Decimal(market.tick)
    done = {"placed": 0, "cancelled": 0, "refused": 0}
    for _ in range(count):
        client = rng.choice(clients)
        try:
            if rng.random() < 0.25:
                open_orders = client.orders(market=symbol, status="open", limit=20)
                if open_orders:
                    client.cancel_order(rng.choice(open_orders).id)
                    done["cancelled"] += 1
                    continue
            side = rng.choice(["buy", "sell"])
            quantity = rng.randint(1, 10) * lot
            if rng.random() < 0.1:  # a market order now and then
                if side == "sell":
                    client.place_order(symbol, side, type="market", quantity=quantity)
                else:
                    client.place_order(symbol, side, type="market", quote_budget=Decimal(rng.randint(1, 50)))
            else:
                price = rng.randint(230, 270) * tick  # 23.00 .. 27.00 around 25.00
                client.place_order(symbol, side, quantity=quantity, price=price,
                                   time_in_force=rng.choice(["gtc", "gtc", "gtc", "ioc"]))
            done["placed"] += 1
        except ExchangeError:
            done["refused"] += 1
    for client in clients:
        client.close()
    return done


if __name__ == "__main__":
    url, symbol, pairs, count, seed = sys.argv[1:6]
    keys = [tuple(pair.split(":", 1)) for pair in pairs.split(",")]
    print(json.dumps(main(url, symbol, keys, int(count), int(seed))))
