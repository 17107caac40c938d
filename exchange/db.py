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

import datetime
from collections.abc import Iterable, Sequence
from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from exchange import prepared
from exchange.literals import bind
from psycopg.pq import ExecStatus, TransactionStatus
from psycopg.types.datetime import TimestamptzLoader

Statement = tuple[str, list]
SEPARATOR = "\n;\n"  # between the statements of one round trip (on a line of its own: a statement may end in a -- comment)
TUPLES_OK = ExecStatus.TUPLES_OK
IDLE = TransactionStatus.IDLE


def run_statements(statements: Sequence[Statement], *, last: bool = False) -> list[list[tuple]]:
    """Run statements in order in one round trip; return each one's rows ([] for those that return none).

    `last`: nothing follows them in the caller's transaction. If that is the outermost atomic block (whose exit
    commits; not a savepoint, not a test's transaction), COMMIT goes in the same query string, saving a round trip
    (bench/code_ab.py: order_place 1.06x orders/s) and the time the market row stays locked. The block's exit then
    finds no transaction open (psycopg sends no COMMIT then) and runs its on_commit callbacks as ever. So whatever
    must refuse the transaction has to be in the statements (a constraint, a trigger), not in Python afterwards.
    A failed statement or COMMIT raises here, and the block rolls back as it would have.
    """
    db = connections[DEFAULT_DB_ALIAS]  # once: the `connection` proxy looks itself up on every attribute
    if db.vendor != "postgresql":
        results = []
        with db.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall() if cursor.description else [])
        return results
    cursor = _kept_cursor(db)
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
    if last and _commits_on_exit(db):
        parts.append("COMMIT")
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


def _kept_cursor(db):
    """Django's cursor wrapper (execute wrappers and query logging see what is sent; errors come as Django's) around
    one psycopg cursor kept per connection. A cursor made and closed per round trip, each building its own adapters
    and loaders, cost ~7 % of an order's CPU.

    In UTC the kept cursor reads timestamptz with psycopg's compiled loader. Django's, a Python subclass of it that
    puts the connection's zone on every time read, parsed a dozen times per order (~4 % of its CPU); in a session
    whose TimeZone is UTC (Django sets it) psycopg's gives that same datetime.timezone.utc itself."""
    db.close_if_health_check_failed()
    db.ensure_connection()
    kept = getattr(db, "_exchange_kept_cursor", None)
    if kept is None or kept.connection is not db.connection or kept.closed:
        with db.wrap_database_errors:
            kept = db._exchange_kept_cursor = db.create_cursor()
        if db.timezone is datetime.timezone.utc and db.timezone_name == "UTC":
            kept.adapters.register_loader("timestamptz", TimestamptzLoader)  # psycopg puts in its compiled one
    db.validate_thread_sharing()
    return db.make_debug_cursor(kept) if db.queries_logged else db.make_cursor(kept)


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


def _commits_on_exit(db) -> bool:
    """Whether the caller's atomic block is the outermost and will commit when it exits."""
    return db.in_atomic_block and len(db.atomic_blocks) == 1 and not db.needs_rollback


def from_rows(model: type[Model], attnames: Sequence[str], rows: Iterable[Sequence]) -> list[Model]:
    """Instances of `model` from rows of all its concrete fields (in `attnames` order), as Model.from_db makes them.

    Model.from_db goes through __init__, which sets each field through its descriptor and sends two signals: for
    the dozen rows an order reads that was ~5 % of its CPU. A fresh instance's fields can go straight into its
    __dict__; with a receiver of pre_init or post_init connected, or fields missing, it is from_db's way.
    """
    fields = model._meta.concrete_fields
    if len(attnames) != len(fields) or pre_init.has_listeners(model) or post_init.has_listeners(model):
        return [model.from_db(DEFAULT_DB_ALIAS, attnames, row) for row in rows]
    instances = []
    for row in rows:
        instance = object.__new__(model)
        instance.__dict__.update(zip(attnames, row))
        instance._state = state = ModelState()
        state.adding, state.db = False, DEFAULT_DB_ALIAS
        instances.append(instance)
    return instances


def new_instance(model: type[Model], **values) -> Model:
    """model(**values), for the rows the order path writes: fields by attname or relations as objects by name, pk,
    and each field not given at its default. Model.__init__ sets each field through its descriptor and sends two
    signals, ~4 % of an order's CPU for its dozen new instances; with a receiver of either signal connected, it is
    __init__'s way."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model(**values)
    instance = object.__new__(model)
    instance._state = state = ModelState()
    data = instance.__dict__
    if "pk" in values:
        values[model._meta.pk.attname] = values.pop("pk")
    for field in model._meta.concrete_fields:
        if field.attname in values:
            data[field.attname] = values.pop(field.attname)
        elif field.is_relation and field.name in values:  # as its descriptor does: the key, and the object cached
            related = state.fields_cache[field.name] = values.pop(field.name)
            data[field.attname] = None if related is None else getattr(related, field.target_field.attname)
        else:
            data[field.attname] = field.get_default()
    if values:
        raise TypeError(f"{model.__name__} has no field {', '.join(values)}")
    return instance


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
