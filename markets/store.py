"""The order path's SQL: lock what an order needs and write its settlement in a fixed few round trips.

Profiling order_place (issue #9) showed the ORM composing statements cost more than the database running them,
so the hot path speaks SQL here; everything else uses the ORM. Rows come back as model instances
(`Model.from_db`), so the services and the payloads work with the same objects as elsewhere.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from django.db import DEFAULT_DB_ALIAS, IntegrityError, OperationalError, connection, connections
from django.db.models import Model
from psycopg import errors

from exchange.db import Statement, db_values, from_rows, run_statements
from ledger import locks
from ledger.models import Account, Currency
from markets import book
from markets.models import BookLevel, Market, Order

MARKET_FIELDS = [field.attname for field in Market._meta.concrete_fields]
CURRENCY_FIELDS = [field.attname for field in Currency._meta.concrete_fields]
ORDER_FIELDS = [field.attname for field in Order._meta.concrete_fields]


def _columns(fields: Sequence[str], alias: str) -> str:
    return ", ".join(f"{alias}.{connection.ops.quote_name(name)}" for name in fields)


@cache
def _market_sql(vendor: str, key: str, lock: bool, value: str = "%s", nowait: bool = False) -> str:
    """The market whose `key` column equals `value` (SQL: a placeholder or a subquery), with its currencies."""
    lock_clause = " FOR UPDATE OF m" if lock and connection.features.has_select_for_update_of else ""
    if lock_clause and nowait:
        lock_clause += " NOWAIT"
    return (
        f"SELECT {_columns(MARKET_FIELDS, 'm')}, {_columns(CURRENCY_FIELDS, 'b')}, {_columns(CURRENCY_FIELDS, 'q')} "
        f"FROM {Market._meta.db_table} m "
        f"JOIN {Currency._meta.db_table} b ON b.id = m.base_id JOIN {Currency._meta.db_table} q ON q.id = m.quote_id "
        f"WHERE m.{key} = {value}{lock_clause}"
    )


class MarketBusy(Exception):
    """Another transaction holds the market row, and the caller asked not to wait for it."""


@dataclass
class OrderLocks:
    """What lock_market_for_order read in its one round trip."""

    market: Market | None
    earlier_id: int | None = None  # the user's order with the same client order id
    first_batch: list[tuple] | None = None  # of the opposite side (book.batch_statement); None if not read
    taker_accounts: list[Account] = field(default_factory=list)  # locked, if nothing on the book crosses
    open_orders: int | None = None  # the user's open orders in the market; None if not counted


def lock_market_for_order(
    market_id: int,
    *,
    user_id: int,
    client_order_id: str | None,
    taker_side: str | None,
    limit_price: int | None,
    count_open: bool,
    wait: bool = True,
) -> OrderLocks:
    """Everything a resting order needs before its write, in one round trip, locks in the one lock order
    (ledger/locks.py): lock the market with its currencies; look up the client order id; read the first batch of the
    opposite side (given `taker_side`); lock the taker's accounts in the market's currencies, but only if no opposite
    order crosses the limit, since a trade needs its makers' accounts too, locked together in key order; and count
    the user's open orders in the market (given `count_open`). Without `wait`, MarketBusy if another transaction
    holds the market row."""
    statements = [(_market_sql(connection.vendor, "id", True, nowait=not wait), [market_id])]
    if client_order_id is not None:
        earlier = f"SELECT id FROM {Order._meta.db_table} WHERE user_id = %s AND client_order_id = %s"
        statements.append((earlier, [user_id, client_order_id]))
    if taker_side is not None:
        side = book.maker_side(taker_side)
        statements.append(book.batch_statement(market_id, side, limit_price, None))
        statements.append(_taker_accounts_lock_statement(market_id, user_id, side, limit_price))
    if count_open:
        statements.append(open_orders_statement(market_id=market_id, user_id=user_id))
    try:
        results = iter(run_statements(statements))
    except OperationalError as error:
        if isinstance(error.__cause__, errors.LockNotAvailable):
            raise MarketBusy from error
        raise
    market_rows = next(results)
    found = OrderLocks(market=_market_from_row(market_rows[0]) if market_rows else None)
    if client_order_id is not None:
        rows = next(results)
        found.earlier_id = rows[0][0] if rows else None
    if taker_side is not None:
        found.first_batch = next(results)
        found.taker_accounts = locks.accounts_from_rows(next(results))
    if count_open:
        found.open_orders = next(results)[0][0]
    return found


def lock_market_for_cancel(
    user_id: int, *, order_id: int | None = None, market_id: int | None = None
) -> tuple[Market | None, list[Order], list[Account]]:
    """In one round trip, in the lock order: lock the market of the user's order `order_id` (or the market
    `market_id`) with its currencies; read that order (or all the user's open orders there, oldest first) as it is
    under the lock; lock the user's accounts in the market's two currencies."""
    if order_id is not None:
        of_market = f"(SELECT market_id FROM {Order._meta.db_table} WHERE id = %s AND user_id = %s)"
        market_params = [order_id, user_id]
        orders_where, orders_params = "id = %s AND user_id = %s", [order_id, user_id]
    else:
        of_market, market_params = "%s", [market_id]
        orders_where = f"market_id = %s AND user_id = %s AND status IN ({book.OPEN_STATUSES_SQL})"
        orders_params = [market_id, user_id]
    columns = ", ".join(connection.ops.quote_name(name) for name in ORDER_FIELDS)
    [market, orders, accounts] = run_statements(
        [
            (_market_sql(connection.vendor, "id", True, of_market), market_params),
            (f"SELECT {columns} FROM {Order._meta.db_table} WHERE {orders_where} ORDER BY id", orders_params),
            locks.accounts_lock_statement(
                currencies_in=_currencies_of(of_market, market_params), user_ids=[user_id], fees=False
            ),
        ]
    )
    return (
        _market_from_row(market[0]) if market else None,
        from_rows(Order, ORDER_FIELDS, orders),
        locks.accounts_from_rows(accounts),
    )


def _taker_accounts_lock_statement(market_id: int, user_id: int, side, limit_price: int | None) -> Statement:
    crossing, crossing_params = book.any_within(market_id, side, limit_price)
    return locks.accounts_lock_statement(
        currencies_in=_currencies_of("%s", [market_id]),
        user_ids=[user_id],
        fees=False,
        only_if=(f"NOT {crossing}", crossing_params),
    )


def _currencies_of(of_market: str, market_params: list) -> Statement:
    """A subquery of the two currencies of the market `of_market` (SQL giving its key)."""
    table = Market._meta.db_table
    sql = f"SELECT base_id FROM {table} WHERE id = {of_market} UNION ALL SELECT quote_id FROM {table} WHERE id = {of_market}"
    return sql, [*market_params, *market_params]


def market_by_symbol(symbol: str) -> Market | None:
    """The market with its two currencies, unlocked: what a request needs to read its amounts."""
    if "\x00" in symbol:  # PostgreSQL refuses NUL in text; no symbol has one
        return None
    return _market(_market_sql(connection.vendor, "symbol", False), symbol)


def _market(sql: str, key) -> Market | None:
    [rows] = run_statements([(sql, [key])])
    return _market_from_row(rows[0]) if rows else None


def _market_from_row(row: tuple) -> Market:
    split, size = len(MARKET_FIELDS), len(CURRENCY_FIELDS)
    [market] = from_rows(Market, MARKET_FIELDS, [row[:split]])
    market.base, market.quote = from_rows(Currency, CURRENCY_FIELDS, [row[split : split + size], row[split + size :]])
    return market


def open_orders_statement(*, market_id: int, user_id: int) -> Statement:
    """How many open orders the user has in the market (read under the market lock, so exact)."""
    table = Order._meta.db_table
    sql = f"SELECT COUNT(*) FROM {table} WHERE market_id = %s AND user_id = %s AND status IN ({book.OPEN_STATUSES_SQL})"
    return sql, [market_id, user_id]


def insert_statement(
    model: type[Model], objects: Sequence[Model], *, returning: bool = True, keyed: bool = False
) -> Statement:
    """One multi-row INSERT of the objects' concrete fields, RETURNING their keys in order. The key is left to the
    database unless `keyed`: then each object brings its own (from allocate_keys_statement).

    On PostgreSQL the rows go as one array per column (INSERT ... SELECT FROM unnest): the statement's text is the
    same however many rows, so psycopg parses it once and the server prepares it once (a VALUES list of a new
    length each time cost both every time)."""
    db = connections[DEFAULT_DB_ALIAS]  # the `connection` proxy looks itself up on every attribute
    head, fields = _insert_head(model, db.vendor, keyed)
    returning = " RETURNING id" if returning else ""
    columns = [db_values(field, objects, db) for field in fields]
    if db.vendor == "postgresql":
        return f"{head}{returning}", columns
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"{head} VALUES {', '.join([row] * len(objects))}{returning}"
    return sql, [value for values in zip(*columns) for value in values]


@cache
def _insert_head(model: type[Model], vendor: str, keyed: bool) -> tuple[str, list]:
    fields = [field for field in model._meta.concrete_fields if keyed or not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    head = f"INSERT INTO {model._meta.db_table} ({columns})"
    if vendor == "postgresql":
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
        head = f"{head} SELECT * FROM unnest({arrays})"
    return head, fields


CLIENT_ORDER_ID_UNIQUE = "order_client_id_per_user"


def client_order_id_taken(error: IntegrityError) -> bool:
    """Whether the error is an order's insert meeting a client order id its user has used already: taken by an
    order placed in another market since the look-up under this one's lock. The insert fails on the unique index
    (not ON CONFLICT DO NOTHING and a check afterwards), so the transaction can commit with its last statements."""
    diagnostics = getattr(error.__cause__, "diag", None)  # psycopg's: it names the index
    if diagnostics is not None:
        return diagnostics.constraint_name == CLIENT_ORDER_ID_UNIQUE
    return "markets_order.client_order_id" in str(error)  # SQLite names the columns


def allocate_keys_statement(model: type[Model], count: int) -> Statement:
    """Draw `count` keys from the model's key sequence (PostgreSQL), so rows that refer to each other can be
    inserted in one round trip."""
    sql = "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)"
    return sql, [model._meta.db_table, count]


def sequence_statement(market: Market) -> Statement:
    return f"UPDATE {Market._meta.db_table} SET sequence = %s WHERE id = %s", [market.sequence, market.pk]


def level_change_statements(changes: dict[tuple[int, str, int], int]) -> list[Statement]:
    """Add each change to its level's open quantity, RETURNING every changed level's (market, side, price, new
    total); then delete the levels left empty. `changes` holds one change per (market, side, price). On PostgreSQL
    the levels go as one array per column, so both statements keep one text (prepared once) however many levels."""
    table = BookLevel._meta.db_table
    levels = sorted(changes)
    on_conflict = (
        f"ON CONFLICT (market_id, side, price) DO UPDATE SET quantity = {table}.quantity + excluded.quantity "
        f"RETURNING market_id, side, price, quantity"
    )
    if connection.vendor == "postgresql":
        markets, sides, prices = (list(column) for column in zip(*levels))
        arrays = "%s::bigint[], %s::varchar[], %s::bigint[]"
        return [
            (
                f"INSERT INTO {table} (market_id, side, price, quantity) SELECT * FROM unnest({arrays}, %s::bigint[]) "
                f"{on_conflict}",
                [markets, sides, prices, [changes[level] for level in levels]],
            ),
            (
                f"DELETE FROM {table} WHERE quantity = 0 AND (market_id, side, price) IN (SELECT * FROM unnest({arrays}))",
                [markets, sides, prices],
            ),
        ]
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(levels))
    triples = ", ".join(["(%s, %s, %s)"] * len(levels))
    return [
        (
            f"INSERT INTO {table} (market_id, side, price, quantity) VALUES {rows} {on_conflict}",
            [value for level in levels for value in (*level, changes[level])],
        ),
        (
            f"DELETE FROM {table} WHERE quantity = 0 AND (market_id, side, price) IN ({triples})",
            [value for level in levels for value in level],
        ),
    ]


def candle_statement(market_id: int, start, prices: list[int], volume: int, quote_volume: int) -> Statement:
    """Fold trades into their one-minute candle with one upsert (run under the market lock)."""
    table = "markets_candle"
    sql = f"""
        INSERT INTO {table} (market_id, start, open, high, low, close, volume, quote_volume, trades)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (market_id, start) DO UPDATE SET
            high = CASE WHEN excluded.high > {table}.high THEN excluded.high ELSE {table}.high END,
            low = CASE WHEN excluded.low < {table}.low THEN excluded.low ELSE {table}.low END,
            close = excluded.close,
            volume = {table}.volume + excluded.volume,
            quote_volume = {table}.quote_volume + excluded.quote_volume,
            trades = {table}.trades + excluded.trades
    """
    start = connection.ops.adapt_datetimefield_value(start)
    return sql, [market_id, start, prices[0], max(prices), min(prices), prices[-1], volume, quote_volume, len(prices)]
