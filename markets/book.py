"""Reading the resting book from the database for the engine, under the market lock.

The engine consumes resting orders lazily in priority order; this feeds it keyset-paged batches, so an order
that takes one level reads a handful of rows however deep the book is.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from markets.matching import Resting, Side
from markets.models import OPEN_STATUSES, Order

BATCH = 32


@dataclass(slots=True)
class RestingRow:
    """What settlement needs to update a maker after the engine has matched against it."""

    order_id: int
    user_id: int
    side: str
    price: int
    quantity: int
    filled_quantity: int
    filled_quote: int
    fees_paid: int
    reserved: int


def opposite_orders(
    *, market_id: int, taker_side: str, limit_price: int | None, rows: dict[int, RestingRow]
) -> Iterator[Resting]:
    """Yield the resting orders a taker could meet, best first; remember each row read in `rows`."""
    maker_side = Side.SELL if taker_side == Side.BUY else Side.BUY
    book = Order.objects.filter(market_id=market_id, side=maker_side, status__in=OPEN_STATUSES)
    if maker_side == Side.SELL:
        if limit_price is not None:
            book = book.filter(price__lte=limit_price)
        book = book.order_by("price", "id")
    else:
        if limit_price is not None:
            book = book.filter(price__gte=limit_price)
        book = book.order_by("-price", "id")
    fields = ("id", "user_id", "price", "quantity", "filled_quantity", "filled_quote", "fees_paid", "reserved")
    last: tuple[int, int] | None = None
    while True:
        page = book
        if last is not None:
            price, order_id = last
            if maker_side == Side.SELL:
                page = page.filter(price__gte=price).exclude(price=price, id__lte=order_id)
            else:
                page = page.filter(price__lte=price).exclude(price=price, id__lte=order_id)
        batch = list(page.values_list(*fields)[:BATCH])
        for order_id, user_id, price, quantity, filled, filled_quote, fees_paid, reserved in batch:
            rows[order_id] = RestingRow(
                order_id, user_id, maker_side, price, quantity, filled, filled_quote, fees_paid, reserved
            )
            yield Resting(
                order_id=order_id, owner_id=user_id, side=maker_side, price=price, remaining=quantity - filled
            )
        if len(batch) < BATCH:
            return
        last = (batch[-1][2], batch[-1][0])
