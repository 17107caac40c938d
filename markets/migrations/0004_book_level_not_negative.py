"""The database refuses a book level below zero.

Not a CHECK constraint: PostgreSQL checks the row an upsert proposes, which carries the (negative) change, before
it becomes an update. A row trigger's WHEN sees the row as written. The settlement used to check the totals it read
back and roll back; with the check in the database, the statements that write a settlement can end in COMMIT in the
same round trip (exchange/db.run_statements).
"""

from django.db import migrations

NAME = "book_level_not_negative"
TABLE = "markets_booklevel"
MESSAGE = "a book level would go below zero"

POSTGRESQL = f"""
CREATE FUNCTION {NAME}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: market %, % at %, quantity %', NEW.market_id, NEW.side, NEW.price, NEW.quantity
        USING ERRCODE = 'check_violation', CONSTRAINT = '{NAME}', TABLE = '{TABLE}';
END
$$;
CREATE TRIGGER {NAME} AFTER INSERT OR UPDATE OF quantity ON {TABLE}
    FOR EACH ROW WHEN (NEW.quantity < 0) EXECUTE FUNCTION {NAME}();
"""
POSTGRESQL_REVERSE = f"DROP TRIGGER {NAME} ON {TABLE}; DROP FUNCTION {NAME}();"

SQLITE = [
    f"CREATE TRIGGER {NAME}_{event} AFTER {event} ON {TABLE} WHEN NEW.quantity < 0 "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    for event in ("INSERT", "UPDATE")
]
SQLITE_REVERSE = [f"DROP TRIGGER {NAME}_{event}" for event in ("INSERT", "UPDATE")]


def _run(statements: dict):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql, params=None)  # None: the % of RAISE's format is not a placeholder

    return run


class Migration(migrations.Migration):
    dependencies = [("markets", "0003_drop_redundant_indexes")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": [POSTGRESQL], "sqlite": SQLITE}),
            _run({"postgresql": [POSTGRESQL_REVERSE], "sqlite": SQLITE_REVERSE}),
        ),
    ]
