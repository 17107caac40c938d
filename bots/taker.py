"""A taker: sends random market and limit orders at `--rate` orders per second.

Prices come from a local order book kept over the websocket (snapshot + deltas, exchange_client.Feed). Each order
is a buy or a sell at random, of one lot up to `--size`. Market orders (`--market-share` of them) take from the
book; limit orders rest on their own side of the book's middle, up to `--spread-percent` away from it, and wait
to be taken. The private `orders` stream tells which of them are still open: once more than `--max-open` are,
the oldest is cancelled, and all of them on SIGINT or SIGTERM.

    EXCHANGE_API_KEY=ak_... EXCHANGE_API_SECRET=... python -m bots.taker --market GOLD-BUCK --rate 1
"""

import asyncio
import random
from collections import deque
from decimal import Decimal

from bots.common import cancel_everything, credentials, log, parser, run, unabandoned, until_stopped
from exchange_client import AsyncClient, ExchangeError, Feed, Market, Order
from exchange_client.errors import OrderNotOpen


class Taker:
    def __init__(self, client: AsyncClient, feed: Feed, market: Market, *, size: Decimal, market_share: float,
                 spread: Decimal, max_open: int, rng: random.Random):
        self.client, self.feed, self.market = client, feed, market
        self.max_lots = max(1, int(size / market.lot))
        self.market_share, self.spread, self.max_open, self.rng = market_share, spread, max_open, rng
        self.resting: deque[int] = deque()  # ids of our limit orders that may still be open, oldest first

    async def place_order(self, *args, **options):
        return await unabandoned(self.client.place_order(*args, **options))

    def middle(self) -> Decimal | None:
        book = self.feed.book(self.market.symbol)
        return book.mid if book.synced else None

    async def send_one(self) -> None:
        """One random order; its outcome in one log line."""
        middle = self.middle()
        if middle is None:
            log.info("waiting for a book with prices in %s", self.market.symbol)
            return
        market, rng = self.market, self.rng
        side = rng.choice(("buy", "sell"))
        quantity = market.round_quantity(market.lot * rng.randint(1, self.max_lots))
        if rng.random() < self.market_share:
            if side == "buy":  # a market buy names the most it may spend: the quantity at a generous price
                budget = (quantity * middle * Decimal("1.2")).quantize(Decimal(10) ** -market.price_decimals)
                order = await self.place_order(market.symbol, side, type="market", quantity=quantity,
                                                      quote_budget=budget)
            else:
                order = await self.place_order(market.symbol, side, type="market", quantity=quantity)
        else:
            away = Decimal(rng.uniform(0, float(self.spread))) / 100
            if side == "buy":
                price = market.round_price(middle * (1 - away))
            else:
                price = market.round_price(middle * (1 + away), up=True)
            order = await self.place_order(market.symbol, side, quantity=quantity, price=price)
            if order.is_open:
                self.resting.append(order.id)
        log.info("%s", describe(order, market))
        await self.trim_resting()

    async def trim_resting(self) -> None:
        while len(self.resting) > self.max_open:
            order_id = self.resting.popleft()
            try:
                await self.client.cancel_order(order_id)
            except OrderNotOpen:
                pass  # filled meanwhile

    async def keep_trading(self, rate: float) -> None:
        while True:
            try:
                await self.send_one()
            except ExchangeError as error:  # insufficient funds, a halted market, the server restarting...
                log.warning("order refused: %s", error)
            await asyncio.sleep(self.rng.expovariate(rate))  # random gaps, `rate` per second on average

    async def follow_feed(self) -> None:
        """Read the feed: it keeps the local book itself; our closed orders leave the list of resting ones."""
        async for event in self.feed:
            if isinstance(event, Order) and not event.is_open and event.id in self.resting:
                self.resting.remove(event.id)


def describe(order: Order, market: Market) -> str:
    what = f"{order.type} {order.side} {order.quantity or ''} {market.base}".replace("  ", " ")
    if order.type == "limit":
        what += f" at {order.price}"
    filled = f"filled {order.filled_quantity}"
    if order.average_price is not None:
        filled += f" at {order.average_price} on average"
    reason = f" ({order.reason})" if order.reason else ""
    return f"#{order.id} {what}: {order.status}{reason}, {filled}"


def main() -> None:
    cli = parser("Send random market and limit orders to a market.")
    cli.add_argument("--rate", type=float, default=1.0, help="orders per second on average (default 1)")
    cli.add_argument("--size", type=Decimal, default=Decimal("1"), help="largest order, in base (default 1)")
    cli.add_argument("--market-share", type=float, default=0.5, help="fraction of market orders (default 0.5)")
    cli.add_argument("--spread-percent", type=Decimal, default=Decimal("1.5"),
                     help="limit prices within this percent of the book's middle (default 1.5)")
    cli.add_argument("--max-open", type=int, default=10, help="resting limit orders kept at most (default 10)")
    cli.add_argument("--seed", type=int, help="random seed, to repeat a run")
    args = cli.parse_args()
    key, secret = credentials()

    async def trade(stop: asyncio.Event) -> None:
        async with AsyncClient(args.url, key=key, secret=secret) as client:
            market = await client.market(args.market)
            feed = Feed(args.url, key=key, secret=secret)
            await feed.connect()
            await feed.subscribe("book", market.symbol)
            await feed.subscribe("orders", market.symbol)
            taker = Taker(client, feed, market, size=args.size, market_share=args.market_share,
                          spread=args.spread_percent, max_open=args.max_open, rng=random.Random(args.seed))
            log.info("taking on %s at %s: %s orders/s, up to %s %s", market.symbol, args.url, args.rate,
                     args.size, market.base)
            try:
                await until_stopped(stop, taker.follow_feed(), taker.keep_trading(args.rate))
            finally:
                await feed.close()
                await cancel_everything(client, market.symbol)

    run("taker", args.log_level, trade)


if __name__ == "__main__":
    main()
