"""Hot-path SQL helpers: cheap UPDATEs of many rows and several statements in one round trip.

Django's bulk_update builds a CASE expression per field and row, which costs more Python than the statement costs
the database; `update_rows` sends the new values as one VALUES list.
`run_statements` sends a list of statements to PostgreSQL in one round trip (psycopg's pipeline mode), so the
settlement of an order takes a fixed few round trips however many rows it writes. They run in order, each seeing
what the earlier ones wrote, inside the caller's transaction. Their parameters are bound by the server, so psycopg
prepares a statement once a connection has run it a few times (DATABASES OPTIONS prepare_threshold): profiling
showed PostgreSQL spending longer planning these small statements than running them. SQLite (in-process, no round
trips, no plans worth keeping) runs them one by one.
"""

from collections.abc import Iterable, Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import Model
from psycopg.pq import ExecStatus

Statement = tuple[str, list]
TUPLES_OK = ExecStatus.TUPLES_OK


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
    cursors = [_server_binding_cursor(db) for _ in statements]
    try:
        if len(cursors) == 1:
            cursors[0].execute(*statements[0])
        else:
            # Errors surface when the pipeline syncs, outside the cursors' own wrapping: wrap them as Django would.
            with db.wrap_database_errors, db.connection.pipeline():
                for cursor, (sql, params) in zip(cursors, statements, strict=True):
                    cursor.execute(sql, params)
        # (Not cursor.description: it builds a column object per column, which cost more than the rows.)
        return [cursor.fetchall() if cursor.cursor.pgresult.status == TUPLES_OK else [] for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


def _server_binding_cursor(db):
    """A Django cursor (wrapped, logged and counted like any other) binding parameters on the server."""
    cursor = ServerBindingCursor(db.connection)
    return db.make_debug_cursor(cursor) if db.queries_logged else db.make_cursor(cursor)


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
    """The statement (a list of one, or none) that writes `fields` of each object (all of one model) to its row."""
    objects = list(objects)
    if not objects:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    head, row_sql, columns = _update_shape(model, tuple(fields), db.vendor)
    rows = list(zip(*[db_values(column, objects, db) for column in columns], [obj.pk for obj in objects]))
    return [(head.format(rows=", ".join([row_sql] * len(rows))), [value for row in rows for value in row])]


@cache
def _update_shape(model: type[Model], fields: tuple[str, ...], vendor: str) -> tuple[str, str, list]:
    """The UPDATE with a {rows} slot for the VALUES rows, one row's placeholders, and the fields written."""
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(name) for name in fields]
    names = [connection.ops.quote_name(column.column) for column in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    if vendor == "postgresql":
        types = [column.db_type(connection) for column in columns] + ["bigint"]
        row_sql = "(" + ", ".join(f"%s::{kind}" for kind in types) + ")"
        head = f"UPDATE {table} AS t SET {assignments} FROM (VALUES {{rows}}) AS v({', '.join(names)}, id) WHERE t.id = v.id"
    else:
        row_sql = "(" + ", ".join(["%s"] * (len(names) + 1)) + ")"
        head = f"WITH v({', '.join(names)}, id) AS (VALUES {{rows}}) UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id"
    return head, row_sql, columns


def update_rows(model: type[Model], fields: Sequence[str], objects: Iterable[Model]) -> None:
    """Write `fields` of each object (all of one model) to its row."""
    statements = update_rows_statements(model, fields, objects)
    if statements:
        run_statements(statements)
