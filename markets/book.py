"""Reading the resting book from the database for the engine, under the market lock.

The engine consumes resting orders lazily in priority order; this feeds it keyset-paged batches, so an order
that takes one level reads a handful of rows however deep the book is.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection

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
    last: tuple[int, int] | None = None
    while True:
        with connection.cursor() as cursor:
            cursor.execute(*_batch_statement(market_id, maker_side, limit_price, last))
            batch = cursor.fetchall()
        for order_id, user_id, price, quantity, filled, filled_quote, fees_paid, reserved in batch:
            rows[order_id] = RestingRow(
                order_id, user_id, maker_side.value, price, quantity, filled, filled_quote, fees_paid, reserved
            )
            yield Resting(
                order_id=order_id, owner_id=user_id, side=maker_side, price=price, remaining=quantity - filled
            )
        if len(batch) < BATCH:
            return
        last = (batch[-1][2], batch[-1][0])


def _batch_statement(market_id: int, maker_side: Side, limit_price: int | None, after: tuple[int, int] | None):
    """The next batch of one side in priority order, after the (price, id) last read: served by order_asks/bids."""
    asks = maker_side == Side.SELL
    where = "market_id = %s AND side = %s AND status IN (%s, %s)"
    params = [market_id, maker_side.value, *OPEN_STATUSES]
    if limit_price is not None:
        where += " AND price <= %s" if asks else " AND price >= %s"
        params.append(limit_price)
    if after is not None:
        where += (
            " AND (price > %s OR (price = %s AND id > %s))" if asks else " AND (price < %s OR (price = %s AND id > %s))"
        )
        params += [after[0], after[0], after[1]]
    sql = (
        f"SELECT id, user_id, price, quantity, filled_quantity, filled_quote, fees_paid, reserved "
        f"FROM {Order._meta.db_table} WHERE {where} ORDER BY {'price' if asks else 'price DESC'}, id LIMIT {BATCH}"
    )
    return sql, params
