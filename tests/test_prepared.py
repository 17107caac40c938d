"""exchange/prepared.py: run_statements prepares a statement by name once a connection has run it a few times, keeps
track of what the session has prepared through failures, and deallocates the least recently run."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from exchange import prepared
from exchange.db import run_statements

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def unique(sql: str) -> str:
    """The statement under a text no other test runs, so what this connection prepared before does not count."""
    return f"{sql} -- {uuid.uuid4().hex}"


def prepared_here(*sqls: str) -> set[str]:
    names = {prepared.statement_name(sql): sql for sql in sqls}
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name = ANY(%s)", [list(names)])
        return {names[name] for (name,) in cursor.fetchall()}


@pytest.fixture
def sent():
    """The query strings sent to the database in the block."""
    queries = []

    def sending(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.cursor() as cursor:  # the test's transaction begins here, not with the first query recorded
        cursor.execute("SELECT 1")
    with connection.execute_wrapper(sending):
        yield queries


def test_a_statement_is_prepared_on_its_third_run_and_then_executed_by_name(settings, sent):
    settings.DATABASE_PREPARE_THRESHOLD = 3
    sql = unique("SELECT %s::text || '%%', cardinality(%s::bigint[])")
    for _ in range(4):
        assert run_statements([(sql, ["x", [1, 2, 3]])]) == [[("x%", 3)]]
    name = prepared.statement_name(sql)
    # (A query may also deallocate statements of earlier tests: this connection has prepared many.)
    how = ["prepared" if f"PREPARE {name} " in query else "by name" if f"EXECUTE {name}(" in query else "as is"
           for query in sent]
    assert how == ["as is", "as is", "prepared", "by name"]
    assert prepared_here(sql) == {sql}


def test_nothing_is_prepared_without_a_threshold(settings, sent):
    settings.DATABASE_PREPARE_THRESHOLD = None  # DATABASE_PREPARE_THRESHOLD=off, behind a pooler
    sql = unique("SELECT %s::integer + 1")
    for _ in range(5):
        assert run_statements([(sql, [1])]) == [[(2,)]]
    assert sent == [sql.replace("%s", "1")] * 5  # as is, bound
    assert prepared_here(sql) == set()


def test_a_failed_round_trip_that_prepared_leaves_the_session_known(settings):
    # PREPARE outlives the rolled-back transaction, so the next run must not prepare the statement again.
    settings.DATABASE_PREPARE_THRESHOLD = 3
    sql = unique("SELECT %s::integer * 2")
    for _ in range(2):
        run_statements([(sql, [2])])
    with pytest.raises(DatabaseError), transaction.atomic():
        run_statements([(sql, [2]), ("SELECT 1 / %s", [0])])  # prepares, then fails
    assert prepared_here(sql) == {sql}
    assert run_statements([(sql, [3])]) == [[(6,)]]


def test_the_least_recently_run_beyond_the_maximum_are_deallocated(settings, monkeypatch):
    settings.DATABASE_PREPARE_THRESHOLD = 1
    monkeypatch.setattr(prepared, "PREPARED_MAX", 2)
    first, second, third = (unique(f"SELECT %s::integer + {n}") for n in (1, 2, 3))
    for sql in (first, second, third):
        run_statements([(sql, [10])])
    assert run_statements([(second, [10])]) == [[(12,)]]  # sends the DEALLOCATE of the oldest
    assert prepared_here(first, second, third) == {second, third}
    assert run_statements([(first, [10])]) == [[(11,)]]
