"""exchange/db: run_statements (several statements in one round trip, in order, with Django's errors) and the
values it writes."""

import pytest
from django.db import IntegrityError, connection, transaction

from exchange.db import constant, run_statements

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scratch():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch_rows (id integer PRIMARY KEY, amount integer NOT NULL CHECK (amount >= 0))")
    yield "scratch_rows"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE scratch_rows")


def test_statements_run_in_order_and_each_sees_what_the_earlier_wrote(scratch):
    with transaction.atomic():
        results = run_statements(
            [
                ("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s), (%s, %s)", [1, 10, 2, 20]),
                ("UPDATE scratch_rows SET amount = amount + %s WHERE id = %s", [5, 1]),
                ("SELECT id, amount FROM scratch_rows ORDER BY id", []),
                ("SELECT COUNT(*) FROM scratch_rows WHERE amount > %s", [100]),
            ]
        )
    assert results == [[], [], [(1, 15), (2, 20)], [(0,)]]


def test_a_failing_statement_raises_djangos_error_and_the_transaction_keeps_nothing(scratch):
    with pytest.raises(IntegrityError), transaction.atomic():
        run_statements(
            [
                ("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10]),
                ("UPDATE scratch_rows SET amount = amount - %s WHERE id = %s", [11, 1]),  # breaks the CHECK
                ("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [2, 20]),
            ]
        )
    # The connection is fine afterwards, and nothing of the failed list stayed.
    assert run_statements([("SELECT COUNT(*) FROM scratch_rows", [])]) == [[(0,)]]


@pytest.mark.postgres
def test_on_postgresql_the_statements_are_one_round_trip(scratch):
    sent = []

    def sending(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with transaction.atomic(), connection.execute_wrapper(sending):
        results = run_statements(
            [
                ("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10]),
                ("SELECT amount FROM scratch_rows WHERE id = %s", [2]),  # no rows
                ("SELECT amount FROM scratch_rows WHERE id = ANY(%s::integer[])", [[1, 2]]),
            ]
        )
    assert results == [[], [], [(10,)]]
    assert len(sent) == 1


@pytest.mark.postgres
def test_a_transactions_first_statements_carry_its_begin(scratch):
    """psycopg sends BEGIN as a round trip of its own before a transaction's first statement; run_statements sends
    it with the statements instead, and psycopg sends none: a second BEGIN would draw PostgreSQL's warning."""
    sent, notices = [], []

    def sending(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    connection.ensure_connection()
    raw = connection.connection
    raw.add_notice_handler(notices.append)
    try:
        for number in (1, 2):  # and again in the next transaction
            sent.clear()
            with connection.execute_wrapper(sending), transaction.atomic():
                run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [number, 10])])
                [[(count,)]] = run_statements([("SELECT COUNT(*) FROM scratch_rows", [])])
            assert [sql.startswith("BEGIN") for sql in sent] == [True, False]
            assert count == number
        # One transaction up to the end of the block: a failure in a later round trip takes back the first's rows.
        with pytest.raises(IntegrityError), transaction.atomic():
            run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [9, 10])])
            run_statements([("UPDATE scratch_rows SET amount = amount - %s WHERE id = %s", [11, 9])])  # breaks the CHECK
    finally:
        raw.remove_notice_handler(notices.append)
    assert notices == []
    assert run_statements([("SELECT id FROM scratch_rows ORDER BY id", [])]) == [[(1,), (2,)]]
    assert connection.get_autocommit() and raw.autocommit  # outside a block, as Django left it


def test_parameters_stay_values_whatever_they_hold(scratch):
    sly = "x';\nDELETE FROM scratch_rows; --%s"
    run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10])])
    results = run_statements([("SELECT %s", [sly]), ("SELECT COUNT(*) FROM scratch_rows", [])])
    assert results == [[(sly,)], [(1,)]]


def test_only_plain_constants_are_written_into_sql():
    assert constant("partially_filled") == "'partially_filled'"
    with pytest.raises(ValueError):
        constant("x' OR '1'='1")


def test_db_values_are_what_the_orm_would_save_for_every_field_of_the_exchange():
    from django.apps import apps
    from django.utils import timezone

    from psycopg.types.json import Jsonb

    from exchange.db import db_values

    def comparable(values):  # psycopg's Jsonb wrapper has no equality; its Int8 and the like equal plain ints
        return [("jsonb", value.obj) if isinstance(value, Jsonb) else value for value in values]

    samples = {"IntegerField": 7, "CharField": "buy", "TextField": "note", "BooleanField": True,
               "DateTimeField": timezone.now(), "JSONField": ["10.0.0.1"]}
    checked = 0
    for model in [model for app in ("api", "ledger", "markets") for model in apps.get_app_config(app).get_models()]:
        for field in model._meta.concrete_fields:
            kind = (field.target_field if field.is_relation else field).get_internal_type()
            value = samples.get(kind, samples["IntegerField"] if "Integer" in kind or "Auto" in kind else None)
            if value is None:
                continue
            obj = model(**{field.attname: value})
            assert comparable(db_values(field, [obj], connection)) == comparable([field.get_db_prep_save(value, connection)])
            checked += 1
    assert checked > 30
