"""A market maker: quotes both sides of a market around a reference price and follows its own fills.

It places `--levels` buy and sell orders, each `--spread` percent further from the reference price, of `--size`
each (post-only, so a quote never takes liquidity). The reference comes from `--price`, else the market's last
trade, else the middle of the book. Each of its fills, heard on the private websocket `fills` stream, moves the
reference to the fill's price and the quotes are replaced (after a short pause, so a burst of fills makes one
update); they are also refreshed every `--refresh` seconds in case a message was missed. On SIGINT or SIGTERM it
cancels all its orders in the market before it exits.

    EXCHANGE_API_KEY=ak_... EXCHANGE_API_SECRET=... python -m bots.market_maker --market GOLD-BUCK --spread 1 --size 1
"""

import asyncio
from decimal import Decimal

from bots.common import cancel_everything, credentials, log, parser, run, unabandoned, until_stopped
from exchange_client import AsyncClient, ExchangeError, Feed, Fill, Market
from exchange_client.errors import InsufficientFunds

COALESCE_SECONDS = 0.2  # fills arriving together cause one update of the quotes


class MarketMaker:
    def __init__(self, client: AsyncClient, market: Market, *, spread: Decimal, size: Decimal, levels: int):
        self.client, self.market = client, market
        self.half_spread = spread / 100 / 2
        self.size = market.round_quantity(size)
        self.levels = levels
        self.reference: Decimal | None = None
        self.changed = asyncio.Event()

    async def place_order(self, *args, **options):
        return await unabandoned(self.client.place_order(*args, **options))

    async def find_reference(self, price: Decimal | None) -> Decimal:
        if price is None:
            ticker = await self.client.ticker(self.market.symbol)
            price = ticker.last or _middle(ticker.best_bid, ticker.best_ask)
        if price is None:
            raise SystemExit(f"{self.market.symbol} has no trades and an empty book: pass --price.")
        return price

    def quotes(self, reference: Decimal) -> list[tuple[str, Decimal]]:
        """(side, price) of every quote: level n is n half-spreads from the reference, one tick apart at least."""
        market, quotes = self.market, []
        bid = ask = reference
        for level in range(1, self.levels + 1):
            bid = min(market.round_price(reference * (1 - self.half_spread * level)), bid - market.tick)
            ask = max(market.round_price(reference * (1 + self.half_spread * level), up=True), ask + market.tick)
            if bid > 0:
                quotes.append(("buy", bid))
            quotes.append(("sell", ask))
        return quotes

    async def requote(self) -> None:
        """Replace all quotes with fresh ones around the reference."""
        symbol, reference = self.market.symbol, self.reference  # fills may move the reference meanwhile
        await unabandoned(self.client.cancel_all(symbol))
        placed = []
        for side, price in self.quotes(reference):
            try:
                order = await self.place_order(symbol, side, quantity=self.size, price=price, post_only=True)
            except InsufficientFunds as error:
                log.warning("no %s quote at %s: %s", side, price, error.message)
                continue
            if order.status == "rejected":  # post-only: it would have taken; another trader's order is there
                log.info("%s quote at %s not placed: %s", side, price, order.reason or "rejected")
                continue
            placed.append(f"{side} {price}")
        log.info("quoting %s %s around %s: %s", self.size, self.market.base, reference, ", ".join(placed))

    async def follow_fills(self, feed: Feed) -> None:
        async for event in feed:
            if isinstance(event, Fill) and event.market == self.market.symbol:
                log.info("filled: %s %s %s at %s (%s, fee %s %s)", event.side, event.quantity, self.market.base,
                         event.price, event.liquidity, event.fee, event.fee_currency)
                self.reference = event.price
                self.changed.set()

    async def keep_quoting(self, refresh: float) -> None:
        while True:
            try:
                await asyncio.wait_for(self.changed.wait(), refresh)
                await asyncio.sleep(COALESCE_SECONDS)
            except TimeoutError:
                pass
            self.changed.clear()
            try:
                await self.requote()
            except ExchangeError as error:  # e.g. the server restarting: try again at the next change or refresh
                log.warning("could not update the quotes: %s", error)


def _middle(bid: Decimal | None, ask: Decimal | None) -> Decimal | None:
    if bid is None or ask is None:
        return bid or ask
    return (bid + ask) / 2


def main() -> None:
    cli = parser("Quote both sides of a market around a reference price.")
    cli.add_argument("--price", type=Decimal, help="reference price (default: last trade, else the book's middle)")
    cli.add_argument("--spread", type=Decimal, default=Decimal("1.0"),
                     help="percent between the best bid and ask, and between levels (default 1.0)")
    cli.add_argument("--size", type=Decimal, default=Decimal("1"), help="quantity of each quote, in base (default 1)")
    cli.add_argument("--levels", type=int, default=3, help="quotes per side (default 3)")
    cli.add_argument("--refresh", type=float, default=30.0, help="seconds between refreshes without fills")
    args = cli.parse_args()
    key, secret = credentials()

    async def trade(stop: asyncio.Event) -> None:
        async with AsyncClient(args.url, key=key, secret=secret) as client:
            market = await client.market(args.market)
            maker = MarketMaker(client, market, spread=args.spread, size=args.size, levels=args.levels)
            maker.reference = await maker.find_reference(args.price)
            feed = Feed(args.url, key=key, secret=secret)
            await feed.connect()
            await feed.subscribe("fills", market.symbol)
            log.info("making %s on %s: spread %s%%, size %s, %s levels", market.symbol, args.url, args.spread,
                     maker.size, args.levels)
            try:
                await maker.requote()
                await until_stopped(stop, maker.follow_fills(feed), maker.keep_quoting(args.refresh))
            finally:
                await feed.close()
                await cancel_everything(client, market.symbol)

    run("maker", args.log_level, trade)


if __name__ == "__main__":
    main()
