"""Parameters written into SQL text as literals, for exchange/db.run_statements on PostgreSQL.

run_statements binds on the client (as Django does). psycopg's mogrify runs a Python loop with a dumper per value
and, for an array, per element: profiling an order showed it taking a quarter of the client's CPU, most of it on
the arrays of the batch statements. The hot path's values are of a few kinds — integers, strings (model choices
among them), None, booleans, aware datetimes, and flat lists of these — and their literals are written here
directly. For any other value, or a string whose literal would need more escaping than doubled quotes (a
backslash, a NUL, a double quote inside an array), the whole statement is left to psycopg, so nothing is escaped
here that psycopg would escape otherwise.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import lru_cache


class _Unwritable(Exception):
    """A value this module leaves to psycopg."""


def bind(sql: str, params: Sequence, mogrify: Callable[[str, Sequence], str]) -> str:
    """`sql` with its %s placeholders replaced by the literals of `params`; what `mogrify` makes of it if a value
    (or the SQL: a %% or %(name)s in it) is not one this module writes."""
    pieces = _pieces(sql)
    if pieces is None or not isinstance(params, (list, tuple)) or len(pieces) != len(params) + 1:
        return mogrify(sql, params)
    try:
        literals = [literal(value) for value in params]
    except _Unwritable:
        return mogrify(sql, params)
    out = [pieces[0]]
    for value, piece in zip(literals, pieces[1:]):
        out.append(value)
        out.append(piece)
    return "".join(out)


@lru_cache(maxsize=1024)
def _pieces(sql: str) -> tuple[str, ...] | None:
    """The text around each %s; None if the SQL has any other % sequence (left to psycopg's parser)."""
    pieces = sql.split("%s")
    return None if any("%" in piece for piece in pieces) else tuple(pieces)


def literal(value) -> str:
    kind = type(value)
    if kind is int:
        # A space before a minus sign, as psycopg writes it: after a "-" in the SQL, "--" would start a comment.
        return str(value) if value >= 0 else f" {value}"
    if kind is str:
        return _string(value)
    if value is None:
        return "NULL"
    if kind is bool:
        return "true" if value else "false"
    if kind is datetime and value.tzinfo is not None:
        return f"'{value.isoformat()}'::timestamptz"
    if kind is list:
        return _string("{" + ",".join([_element(item) for item in value]) + "}")
    return literal(_plain(value))


def _string(value: str) -> str:
    # With standard_conforming_strings (on by default; off, a backslash would escape), only a quote needs escaping.
    if "\\" in value or "\x00" in value:
        raise _Unwritable
    return "'" + value.replace("'", "''") + "'"


def _element(value) -> str:
    """One element of an array's text form ({1,NULL,"a"}): strings double-quoted, so "NULL" stays a string."""
    kind = type(value)
    if kind is int:
        return str(value)
    if value is None:
        return "NULL"
    if kind is str:
        if '"' in value:
            raise _Unwritable  # would need a backslash escape
        return f'"{value}"'
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime and value.tzinfo is not None:
        return f'"{value.isoformat()}"'
    return _element(_plain(value))


def _plain(value) -> str | int:
    """The str or int of a subclass's value (a model's TextChoices member, as psycopg dumps it: by its value)."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    raise _Unwritable
