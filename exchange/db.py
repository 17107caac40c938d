"""Hot-path SQL helpers: cheap UPDATEs of many rows and several statements in one round trip.

Django's bulk_update builds a CASE expression per field and row, which costs more Python than the statement costs
the database; `update_rows` sends the new values as one array per column (a VALUES list on SQLite).
`run_statements` sends a list of statements to PostgreSQL as one query string, one round trip, so the settlement of
an order takes a fixed few round trips however many rows it writes. They run in order, each seeing what the earlier
ones wrote, inside the caller's transaction. Parameters are bound on the client (as everywhere in Django) and
statements that a connection runs often are prepared by name (exchange/prepared.py): profiling showed PostgreSQL
spending longer planning these small statements than running them. (psycopg's pipeline mode, which this replaced,
cost about 80 µs of client CPU per statement against about 20 µs here.) SQLite (in-process, no round trips, no
plans worth keeping) runs them one by one.
"""

from collections.abc import Iterable, Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model

from exchange import prepared
from exchange.literals import bind
from psycopg.pq import ExecStatus, TransactionStatus

Statement = tuple[str, list]
SEPARATOR = "\n;\n"  # between the statements of one round trip (on a line of its own: a statement may end in a -- comment)
TUPLES_OK = ExecStatus.TUPLES_OK
IDLE = TransactionStatus.IDLE


def run_statements(statements: Sequence[Statement]) -> list[list[tuple]]:
    """Run statements in order in one round trip; return each one's rows ([] for those that return none)."""
    db = connections[DEFAULT_DB_ALIAS]  # once: the `connection` proxy looks itself up on every attribute
    if db.vendor != "postgresql":
        results = []
        with db.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall() if cursor.description else [])
        return results
    db.ensure_connection()
    with db.cursor() as cursor:
        # Django's cursor binds parameters on the client, so this is one query string, which PostgreSQL's simple
        # protocol takes whole: one message each way, and a result per statement. Each statement is bound on its
        # own (exchange/literals.py writes the common values; psycopg's mogrify the rest): parsing the joined
        # string's placeholders was 14 % of a writer's CPU.
        out = prepared.sending(db.connection, cursor, statements)
        mogrify = cursor.cursor.mogrify
        parts = [bind(sql, params, mogrify) for sql, params in zip(out.sql, out.params)]
        begins = _begins_transaction(db)
        if begins:
            parts.insert(0, "BEGIN")
        try:
            cursor.execute(SEPARATOR.join(parts))
        except Exception:
            prepared.sent(db.connection, out, ok=False)
            raise
        prepared.sent(db.connection, out, ok=True)
        raw = cursor.cursor
        if begins:
            raw.nextset()  # past BEGIN's result
        results = []
        for housekeeping in out.housekeeping:
            if not housekeeping:
                # (Not cursor.description: it builds a column object per column, which cost more than the rows.)
                results.append(raw.fetchall() if raw.pgresult.status == TUPLES_OK else [])
            raw.nextset()
        return results


def _begins_transaction(db) -> bool:
    """Whether these statements are the first of the caller's transaction (Django's atomic block, not yet begun on
    the server). If so, BEGIN goes in the same query string, and psycopg, which would have sent BEGIN alone first
    (one more round trip per transaction; without it order_place took 1.08x the orders per second,
    bench/code_ab.py), is told not to: as in autocommit mode, it then sends what it is given. The explicit BEGIN
    keeps everything up to Django's COMMIT or ROLLBACK one transaction, whatever psycopg's setting; Django sets it
    again when the atomic block ends."""
    raw = db.connection
    if not db.in_atomic_block or raw.autocommit or raw.pgconn.transaction_status != IDLE:
        return False
    raw.autocommit = True
    return True


def constant(value: str) -> str:
    """A code constant (a status, a side, a kind) written into the SQL, not bound: a prepared statement's generic
    plan can then use the partial indexes whose condition names it."""
    if not value.replace("_", "").isalnum():
        raise ValueError(f"not a plain constant: {value!r}")
    return f"'{value}'"


# Fields whose Python values psycopg adapts as they are: for these, get_db_prep_save only returns its argument, after
# a few calls per value, and a batch of orders prepares thousands of values.
# (Django wraps integers as psycopg's Int2/Int4/Int8 to name their SQL type; every hot-path statement casts its
# parameters, so plain ints say the same.)
_AS_IS_ON_POSTGRESQL = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField", "SmallIntegerField",
    "PositiveIntegerField", "PositiveBigIntegerField", "PositiveSmallIntegerField", "CharField", "TextField",
    "BooleanField", "DateTimeField",
})


@cache
def _prepares_as_is(field, vendor: str) -> bool:
    if vendor != "postgresql":
        return False
    if field.is_relation:
        return _prepares_as_is(field.target_field, vendor)
    return field.get_internal_type() in _AS_IS_ON_POSTGRESQL


def db_values(field, objects: Iterable[Model], db) -> list:
    """The field's value of each object, as the database takes it (get_db_prep_save, skipped where it would
    return the value unchanged)."""
    if _prepares_as_is(field, db.vendor):
        return [getattr(obj, field.attname) for obj in objects]
    return [field.get_db_prep_save(getattr(obj, field.attname), db) for obj in objects]


def update_rows_statements(model: type[Model], fields: Sequence[str], objects: Iterable[Model]) -> list[Statement]:
    """The statement (a list of one, or none) that writes `fields` of each object (all of one model) to its row.

    On PostgreSQL the new values go as one array per column (UPDATE ... FROM unnest): the statement's text is the
    same however many rows, so it is prepared once, and psycopg parses its few placeholders once. A VALUES list
    made a new statement of each row count, planned by the server and parsed by psycopg every time."""
    objects = list(objects)
    if not objects:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    sql, columns = _update_shape(model, tuple(fields), db.vendor)
    values = [db_values(column, objects, db) for column in columns] + [[obj.pk for obj in objects]]
    if db.vendor == "postgresql":
        return [(sql, values)]
    rows = list(zip(*values))
    row_sql = "(" + ", ".join(["%s"] * len(values)) + ")"
    return [(sql.format(rows=", ".join([row_sql] * len(rows))), [value for row in rows for value in row])]


@cache
def _update_shape(model: type[Model], fields: tuple[str, ...], vendor: str) -> tuple[str, list]:
    """The UPDATE (on SQLite with a {rows} slot for the VALUES rows) and the fields it writes."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(name) for name in fields]
    quoted = [connection.ops.quote_name(column.column) for column in columns]
    names, assignments = ", ".join(quoted), ", ".join(f"{name} = v.{name}" for name in quoted)
    if vendor == "postgresql":
        arrays = ", ".join(f"%s::{column.db_type(connection)}[]" for column in columns)
        sql = f"UPDATE {table} AS t SET {assignments} FROM unnest({arrays}, %s::bigint[]) AS v({names}, id) WHERE t.id = v.id"
    else:
        sql = f"WITH v({names}, id) AS (VALUES {{rows}}) UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id"
    return sql, columns


def update_rows(model: type[Model], fields: Sequence[str], objects: Iterable[Model]) -> None:
    """Write `fields` of each object (all of one model) to its row."""
    statements = update_rows_statements(model, fields, objects)
    if statements:
        run_statements(statements)
