"""Hot-path SQL helpers: cheap UPDATEs of many rows and several statements in one round trip.

Django's bulk_update builds a CASE expression per field and row, which costs more Python than the statement costs
the database; `update_rows` sends the new values as one VALUES list.
`run_statements` sends a list of statements to PostgreSQL as one multi-statement query, so the settlement of an
order takes a fixed few round trips however many rows it writes. They run in order, each seeing what the earlier
ones wrote, inside the caller's transaction. SQLite (in-process, no round trips) runs them one by one.
"""

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model

Statement = tuple[str, list]


def run_statements(statements: Sequence[Statement]) -> list[list[tuple]]:
    """Run statements in order in one round trip; return each one's rows ([] for those that return none)."""
    results = []
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql" or len(statements) == 1:
            for sql, params in statements:
                cursor.execute(sql, params)
                results.append(cursor.fetchall() if cursor.description else [])
            return results
        # Client-side binding (Django's default for psycopg 3) sends this as one simple query.
        cursor.execute(
            ";\n".join(sql for sql, _ in statements), [value for _, params in statements for value in params]
        )
        while True:
            results.append(cursor.fetchall() if cursor.description else [])
            if not cursor.nextset():
                return results


def update_rows_statements(model: type[Model], fields: Sequence[str], objects: Iterable[Model]) -> list[Statement]:
    """The statement (a list of one, or none) that writes `fields` of each object (all of one model) to its row."""
    objects = list(objects)
    if not objects:
        return []
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(name) for name in fields]
    names = [connection.ops.quote_name(column.column) for column in columns]
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns] + [obj.pk]
        for obj in objects
    ]
    if connection.vendor == "postgresql":
        types = [column.db_type(connection) for column in columns] + ["bigint"]
        placeholder = "(" + ", ".join(f"%s::{kind}" for kind in types) + ")"
        assignments = ", ".join(f"{name} = v.{name}" for name in names)
        sql = (
            f"UPDATE {table} AS t SET {assignments} "
            f"FROM (VALUES {', '.join([placeholder] * len(rows))}) AS v({', '.join(names)}, id) WHERE t.id = v.id"
        )
        return [(sql, [value for row in rows for value in row])]
    placeholder = "(" + ", ".join(["%s"] * (len(names) + 1)) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name in names)
    sql = (
        f"WITH v({', '.join(names)}, id) AS (VALUES {', '.join([placeholder] * len(rows))}) "
        f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id"
    )
    return [(sql, [value for row in rows for value in row])]


def update_rows(model: type[Model], fields: Sequence[str], objects: Iterable[Model]) -> None:
    """Write `fields` of each object (all of one model) to its row."""
    statements = update_rows_statements(model, fields, objects)
    if statements:
        run_statements(statements)
