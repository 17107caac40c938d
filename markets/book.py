"""Reading the resting book from the database for the engine, under the market lock.

The engine consumes resting orders lazily in priority order; this feeds it keyset-paged batches, so an order
that takes one level reads a handful of rows however deep the book is. The first batch is read in the same round
trip as the market lock (markets/store.lock_market_for_order) and handed in.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection

from exchange.db import Statement, constant
from markets.matching import Resting, Side
from markets.models import OPEN_STATUSES, Order

BATCH = 32
OPEN_STATUSES_SQL = ", ".join(constant(status) for status in OPEN_STATUSES)


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


def maker_side(taker_side: str) -> Side:
    return Side.SELL if taker_side == Side.BUY else Side.BUY


def opposite_orders(
    *, market_id: int, taker_side: str, limit_price: int | None, rows: dict[int, RestingRow], first_batch=None
) -> Iterator[Resting]:
    """Yield the resting orders a taker could meet, best first; remember each row read in `rows`.
    `first_batch`: the rows of batch_statement(..., after=None), if already read."""
    side = maker_side(taker_side)
    last: tuple[int, int] | None = None
    while True:
        if first_batch is not None:
            batch, first_batch = first_batch, None
        else:
            with connection.cursor() as cursor:
                cursor.execute(*batch_statement(market_id, side, limit_price, last))
                batch = cursor.fetchall()
        for order_id, user_id, price, quantity, filled, filled_quote, fees_paid, reserved in batch:
            rows[order_id] = RestingRow(
                order_id, user_id, side.value, price, quantity, filled, filled_quote, fees_paid, reserved
            )
            yield Resting(order_id=order_id, owner_id=user_id, side=side, price=price, remaining=quantity - filled)
        if len(batch) < BATCH:
            return
        last = (batch[-1][2], batch[-1][0])


def batch_statement(market_id: int, side: Side, limit_price: int | None, after: tuple[int, int] | None) -> Statement:
    """The next batch of one side in priority order, after the (price, id) last read: served by order_asks/bids."""
    asks = side == Side.SELL
    where, params = _within(market_id, side, limit_price)
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


def any_within(market_id: int, side: Side, limit_price: int | None) -> Statement:
    """An SQL condition: does `side` hold an open order a taker with this limit could meet?

    Written as the side's best price (a one-row read of order_asks/order_bids) against the limit. An EXISTS over
    the price range reads the same when planned for its values, but a prepared statement's generic plan, guessing
    a third of the book in range, may scan the table for its first match: with a million resting orders and none
    in range, 0.6 s under the market lock."""
    asks = side == Side.SELL
    where, params = _within(market_id, side, None)
    best = (
        f"(SELECT price FROM {Order._meta.db_table} WHERE {where} "
        f"ORDER BY {'price' if asks else 'price DESC'}, id LIMIT 1)"
    )
    if limit_price is None:
        return f"{best} IS NOT NULL", params
    return f"COALESCE({best} {'<=' if asks else '>='} %s, FALSE)", [*params, limit_price]


def _within(market_id: int, side: Side, limit_price: int | None) -> tuple[str, list]:
    where = f"market_id = %s AND side = {constant(side.value)} AND status IN ({OPEN_STATUSES_SQL})"
    params = [market_id]
    if limit_price is not None:
        where += " AND price <= %s" if side == Side.SELL else " AND price >= %s"
        params.append(limit_price)
    return where, params
