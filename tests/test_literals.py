"""exchange/literals.py: what run_statements writes into the SQL reaches PostgreSQL as the same values psycopg's own
binding sends, and what it does not write itself it leaves to psycopg."""

import enum
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from exchange import literals
from markets.models import Order

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


class Priority(enum.IntEnum):
    HIGH = 7


AWARE = datetime(2026, 12, 3, 13, 5, 7, 123456, tzinfo=UTC)

# (value, the SQL type it is read back as)
VALUES = [
    (0, "bigint"),
    (42, "bigint"),
    (-42, "bigint"),
    (2**63 - 1, "bigint"),
    (10**30, "numeric"),
    ("plain", "text"),
    ("it's", "text"),
    ("''; DROP TABLE ledger_account; --", "text"),
    ("NULL", "text"),
    ("ünïcödé €", "text"),
    ("", "text"),
    (None, "text"),
    (True, "boolean"),
    (False, "boolean"),
    (AWARE, "timestamptz"),
    (AWARE.astimezone(timezone(timedelta(hours=-5, minutes=-30))), "timestamptz"),
    ([], "bigint[]"),
    ([1, -2, None, 3], "bigint[]"),
    (["buy", "NULL", None, "it's", "a,b", "{x}", " spaced "], "text[]"),
    ([True, False, None], "boolean[]"),
    ([AWARE, None], "timestamptz[]"),
    (Order.Status.OPEN, "text"),  # a str subclass: written as its value, as psycopg does
    ([Order.Status.FILLED, Order.Status.PARTIALLY_FILLED], "text[]"),
    (Priority.HIGH, "bigint"),
    ([Priority.HIGH, 1], "bigint[]"),
]


def read_back(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("value", "sql_type"), VALUES)
def test_each_value_reaches_postgresql_as_psycopg_sends_it(value, sql_type):
    bound = literals.bind(f"SELECT %s::{sql_type}", [value], mogrify=fail_if_called)
    assert read_back(bound) == read_back(f"SELECT %s::{sql_type}", [value])
    if value is not None:
        assert read_back(bound) is not None


def test_a_negative_number_after_a_minus_is_not_a_comment():
    assert read_back(literals.bind("SELECT 1-%s", [-2], mogrify=fail_if_called)) == 3


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT %s::text", ["back\\slash"]),  # would depend on standard_conforming_strings
        ("SELECT %s::text[]", [['a "quoted" word']]),  # would need a backslash in the array text
        ("SELECT %s::text[]", [["back\\slash"]]),
        ("SELECT %s::numeric", [1.5]),
        ("SELECT %s::timestamp", [datetime(2026, 12, 3, 13, 5)]),  # naive
        ("SELECT %s::bigint[]", [[[1, 2], [3, 4]]]),  # nested
        ("SELECT %s::text LIKE 'a%%'", ["abc"]),  # another % sequence in the SQL
        ("SELECT %(name)s::text", {"name": "x"}),
    ],
)
def test_what_it_does_not_write_is_left_to_psycopg(sql, params):
    with connection.cursor() as cursor:
        mogrify = cursor.cursor.mogrify
        assert literals.bind(sql, params, mogrify) == mogrify(sql, params)
        assert read_back(literals.bind(sql, params, mogrify)) == read_back(sql, params)


def test_a_placeholder_count_that_does_not_match_fails_as_in_psycopg():
    with connection.cursor() as cursor, pytest.raises(Exception, match="placeholder"):
        literals.bind("SELECT %s, %s", [1], cursor.cursor.mogrify)


def fail_if_called(sql, params):
    raise AssertionError(f"left to psycopg: {sql!r} {params!r}")
