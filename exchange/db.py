"""A cheap UPDATE of many rows by primary key, for the hot paths.

Django's bulk_update builds a CASE expression per field and row, which costs more Python than the statement costs
the database. This sends the new values as one VALUES list (PostgreSQL) or one executemany (SQLite).
"""

from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model


def update_rows(model: type[Model], fields: Sequence[str], objects: Iterable[Model]) -> None:
    """Write `fields` of each object (all of one model) to its row, in one statement."""
    objects = list(objects)
    if not objects:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = [model._meta.get_field(name) for name in fields]
    names = [connection.ops.quote_name(column.column) for column in columns]
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns] + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            types = [column.db_type(connection) for column in columns] + ["bigint"]
            placeholder = "(" + ", ".join(f"%s::{kind}" for kind in types) + ")"
            assignments = ", ".join(f"{name} = v.{name}" for name in names)
            cursor.execute(
                f"UPDATE {table} AS t SET {assignments} "
                f"FROM (VALUES {', '.join([placeholder] * len(rows))}) AS v({', '.join(names)}, id) WHERE t.id = v.id",
                [value for row in rows for value in row],
            )
        else:
            assignments = ", ".join(f"{name} = %s" for name in names)
            cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)
