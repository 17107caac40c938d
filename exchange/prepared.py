"""Prepared statements for exchange/db.run_statements, named in SQL: `PREPARE name AS ...`, then `EXECUTE name(...)`.

run_statements sends its statements as one query string (the simple protocol): psycopg's pipeline mode cost about
four times the client CPU. The simple protocol has no protocol-level prepared statements, and without them
PostgreSQL plans every statement on every run, which profiling showed costing it more than running them (its CPU
per order doubled). So a statement that a connection has run THRESHOLD times is prepared there by name, as psycopg
would have prepared it, and from then on sent as a short EXECUTE; the least recently run beyond PREPARED_MAX are
deallocated.

Prepared statements belong to the server session and outlive a rolled-back transaction. What a connection has
prepared is therefore kept per connection, and after a round trip that prepared or deallocated fails (so which of
its parts ran is unknown), it is read back from pg_prepared_statements.
Behind a pooler that does not keep session state (PgBouncer in transaction mode), THRESHOLD is None: nothing is
prepared.
"""

import hashlib
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from weakref import WeakKeyDictionary

from django.conf import settings

PREFIX = "exchange_"  # of the names this module gives; nothing else on the connection is touched
PREPARED_MAX = 100  # statements one connection keeps prepared (psycopg's own default)
COUNTED_MAX = 1000  # statement texts whose runs are counted per connection before the count starts over


@dataclass
class _Session:
    """What one connection's server session has prepared, and how often it has run each statement not prepared."""

    names: OrderedDict[str, None] = field(default_factory=OrderedDict)  # least recently run first
    runs: Counter[str] = field(default_factory=Counter)  # by name
    known: bool = True
    to_deallocate: list[str] = field(default_factory=list)


_sessions: WeakKeyDictionary = WeakKeyDictionary()  # psycopg connection -> _Session


@dataclass
class Sending:
    """One round trip's query: the statements' SQL and parameters, and what it prepares and deallocates."""

    sql: list[str] = field(default_factory=list)
    params: list[Sequence] = field(default_factory=list)  # per part of `sql`
    housekeeping: list[bool] = field(default_factory=list)  # per part of `sql`: a PREPARE or DEALLOCATE, no result
    executed: list[str] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)
    deallocated: list[str] = field(default_factory=list)

    def add(self, sql: str, params: Sequence = (), *, housekeeping: bool = False) -> None:
        self.sql.append(sql)
        self.params.append(params)
        self.housekeeping.append(housekeeping)


def sending(connection, cursor, statements: Sequence[tuple[str, list]]) -> Sending:
    """The statements as they are to be sent on `connection` (psycopg's), prepared ones as EXECUTE. `cursor`
    reads back what the session has prepared when that is not known."""
    threshold = settings.DATABASE_PREPARE_THRESHOLD
    out = Sending()
    if threshold is None:
        for sql, params in statements:
            out.add(sql, params)
        return out
    session = _session(connection, cursor)
    out.deallocated, session.to_deallocate = session.to_deallocate, []
    for name in out.deallocated:
        out.add(f"DEALLOCATE {name}", housekeeping=True)
    for sql, params in statements:
        name = statement_name(sql)
        if name not in session.names and name not in out.prepared:
            session.runs[name] += 1
            if session.runs[name] < threshold:
                out.add(sql, params)
                continue
            out.add(f"PREPARE {name} AS {_numbered(sql)}", housekeeping=True)
            out.prepared.append(name)
        out.add(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)
        out.executed.append(name)
    return out


def sent(connection, out: Sending, *, ok: bool) -> None:
    """Record what a round trip did on the connection's session (none is kept when nothing is prepared)."""
    session = _sessions.get(connection)
    if session is None:
        return
    if not ok:
        if out.prepared or out.deallocated:
            session.known = False
        return
    for name in out.executed:
        session.names[name] = None
        session.names.move_to_end(name)
    for name in out.prepared:
        session.runs.pop(name, None)
    while len(session.names) > PREPARED_MAX:
        session.to_deallocate.append(session.names.popitem(last=False)[0])
    if len(session.runs) > COUNTED_MAX:
        session.runs.clear()


def _session(connection, cursor) -> _Session:
    session = _sessions.get(connection)
    if session is None:
        session = _sessions[connection] = _Session()
    if not session.known:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE starts_with(name, %s)", [PREFIX])
        session.names = OrderedDict((name, None) for (name,) in cursor.fetchall())
        session.known = True
    return session


@lru_cache(maxsize=4096)
def statement_name(sql: str) -> str:
    return PREFIX + hashlib.blake2b(sql.encode(), digest_size=10).hexdigest()


@lru_cache(maxsize=4096)
def _numbered(sql: str) -> str:
    """The statement with its %s placeholders as $1, $2, ... (%% stays: the whole query string is formatted)."""
    numbers = iter(range(1, sql.count("%s") + 1))
    return re.sub(r"%[%s]", lambda found: "%%" if found.group() == "%%" else f"${next(numbers)}", sql)
