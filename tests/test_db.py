"""exchange/db: run_statements (several statements in one round trip, in order, with Django's errors) and the
values it writes."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from exchange.db import constant, from_rows, new_instance, run_statements
from tests.concurrency import run_together
from tests.helpers import sending_into

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


@pytest.fixture
def notices():
    """PostgreSQL's notices to this connection: a BEGIN or COMMIT sent twice draws one."""
    connection.ensure_connection()
    received = []
    connection.connection.add_notice_handler(received.append)
    yield received
    connection.connection.remove_notice_handler(received.append)


@pytest.mark.postgres
def test_on_postgresql_the_statements_are_one_round_trip(scratch):
    sent = []
    with transaction.atomic(), sending_into(sent):
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
def test_a_transactions_first_statements_carry_its_begin(scratch, notices):
    """psycopg sends BEGIN as a round trip of its own before a transaction's first statement; run_statements sends
    it with the statements instead, and psycopg sends none: a second BEGIN would draw PostgreSQL's warning."""
    sent = []
    for number in (1, 2):  # and again in the next transaction
        sent.clear()
        with sending_into(sent), transaction.atomic():
            run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [number, 10])])
            [[(count,)]] = run_statements([("SELECT COUNT(*) FROM scratch_rows", [])])
        assert [sql.startswith("BEGIN") for sql in sent] == [True, False]
        assert count == number
    # One transaction up to the end of the block: a failure in a later round trip takes back the first's rows.
    with pytest.raises(IntegrityError), transaction.atomic():
        run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [9, 10])])
        run_statements([("UPDATE scratch_rows SET amount = amount - %s WHERE id = %s", [11, 9])])  # breaks the CHECK
    assert notices == []
    assert run_statements([("SELECT id FROM scratch_rows ORDER BY id", [])]) == [[(1,), (2,)]]
    assert connection.get_autocommit() and connection.connection.autocommit  # outside a block, as Django left it


def others_see(table: str) -> list[tuple]:
    """The rows another connection sees: what has committed."""
    [rows] = run_together([lambda: run_statements([(f"SELECT id FROM {table} ORDER BY id", [])])[0]])
    return rows


@pytest.mark.postgres
def test_the_last_statements_of_a_transaction_carry_its_commit(scratch, notices):
    """With `last`, COMMIT goes along: the rows are committed before the block ends, Django's exit sends nothing
    more (a second COMMIT would draw PostgreSQL's warning), and on_commit callbacks run at the exit as ever."""
    sent, called = [], []
    with sending_into(sent), transaction.atomic():
        run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10])])
        run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [2, 20])], last=True)
        transaction.on_commit(lambda: called.append(others_see(scratch)))
        assert others_see(scratch) == [(1,), (2,)]
        assert not called
    assert [(sql.startswith("BEGIN"), sql.endswith("COMMIT")) for sql in sent] == [(True, False), (False, True)]
    assert called == [[(1,), (2,)]]
    # A failure in the last statements (or in their COMMIT) rolls everything back, as without `last`.
    with pytest.raises(IntegrityError), transaction.atomic():
        run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [3, 10])])
        run_statements([("UPDATE scratch_rows SET amount = amount - %s WHERE id = %s", [11, 3])], last=True)
    assert notices == []
    assert others_see(scratch) == [(1,), (2,)]
    assert connection.get_autocommit() and connection.connection.autocommit


@pytest.mark.postgres
def test_a_commit_that_fails_raises_from_the_last_statements_and_keeps_nothing(scratch):
    """A deferred constraint is checked at COMMIT, which now goes with the last statements: its failure raises
    there, as Django's COMMIT would have raised at the block's end, and the transaction keeps nothing."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE scratch_refs (id integer PRIMARY KEY, "
            "row_id integer REFERENCES scratch_rows (id) DEFERRABLE INITIALLY DEFERRED)"
        )
    after_the_call = []
    try:
        with pytest.raises(IntegrityError, match="scratch_refs"), transaction.atomic():
            run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10])])
            run_statements([("INSERT INTO scratch_refs (id, row_id) VALUES (%s, %s)", [1, 99])], last=True)
            after_the_call.append(True)
        assert after_the_call == []
        assert others_see(scratch) == []
        assert run_statements([("SELECT COUNT(*) FROM scratch_refs", [])]) == [[(0,)]]  # the connection is fine
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE scratch_refs")


def test_last_statements_in_a_nested_block_leave_the_commit_to_the_outermost(scratch):
    """In a savepoint (or a test's transaction) the outer block decides: a failure after the nested block still
    takes its rows back."""
    with pytest.raises(RuntimeError), transaction.atomic():
        with transaction.atomic():
            run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10])], last=True)
        assert run_statements([("SELECT id FROM scratch_rows", [])]) == [[(1,)]]
        raise RuntimeError("the outer block fails")
    assert others_see(scratch) == []


@pytest.mark.postgres
def test_statements_go_on_one_kept_cursor_of_whichever_connection_is_open(scratch):
    run_statements([("INSERT INTO scratch_rows (id, amount) VALUES (%s, %s)", [1, 10])])
    kept = connection._exchange_kept_cursor
    assert run_statements([("SELECT amount FROM scratch_rows", [])]) == [[(10,)]]
    assert connection._exchange_kept_cursor is kept and not kept.closed
    connection.close()  # the pool may hand out another connection; the old one's cursor must not be used
    assert run_statements([("SELECT amount FROM scratch_rows", [])]) == [[(10,)]]
    assert connection._exchange_kept_cursor.connection is connection.connection


@pytest.mark.postgres
def test_times_read_in_utc_are_what_djangos_loader_gives(scratch):
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    from psycopg.postgres import types

    written = "2026-06-30 23:59:59.5-07:30"
    [[(read,)]] = run_statements([("SELECT %s::timestamptz", [written])])
    with connection.cursor() as cursor:  # Django's own cursor, with Django's loader
        cursor.execute("SELECT %s::timestamptz", [written])
        [(djangos,)] = cursor.fetchall()
        assert issubclass(cursor.cursor.adapters.get_loader(types["timestamptz"].oid, 0), BaseTzLoader)
    assert read == djangos == datetime.datetime(2026, 7, 1, 7, 29, 59, 500000, tzinfo=datetime.timezone.utc)
    assert read.tzinfo is djangos.tzinfo is datetime.timezone.utc
    loader = connection._exchange_kept_cursor.adapters.get_loader(types["timestamptz"].oid, 0)
    assert not issubclass(loader, BaseTzLoader)  # psycopg's compiled one


def test_from_rows_makes_the_instances_from_db_makes():
    from django.contrib.auth import get_user_model

    from ledger.models import Account, Currency

    user = get_user_model().objects.create_user("rows")
    currency = Currency.objects.create(code="ROWS", name="Rows", decimals=3, issuer=user)
    account = Account.objects.create(user=user, currency=currency, balance=1_500, held=250)
    for instance in (currency, account):
        model = type(instance)
        names = [field.attname for field in model._meta.concrete_fields]
        row = model.objects.filter(pk=instance.pk).values_list(*names).get()
        [made] = from_rows(model, names, [row])
        expected = model.from_db(connection.alias, names, row)
        assert {**made.__dict__, "_state": None} == {**expected.__dict__, "_state": None}
        assert (made._state.adding, made._state.db) == (False, connection.alias)
    [made] = from_rows(Account, [field.attname for field in Account._meta.concrete_fields], [row])
    assert made.currency == currency and made.user == user  # relations load as on any instance
    made.balance = 2_000
    made.save(update_fields=["balance"])  # an UPDATE of the row, not an INSERT
    account.refresh_from_db()
    assert account.balance == 2_000


def test_new_instance_makes_what_the_models_constructor_makes():
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from ledger.models import Account, Currency, JournalEntry, Posting
    from markets.models import Market, Order, Trade

    user = get_user_model()(pk=7, username="maker")
    base, quote = Currency(pk=1, code="GOLD", decimals=3), Currency(pk=2, code="BUCK", decimals=2)
    market = Market(pk=3, base=base, quote=quote, symbol="GOLD-BUCK")
    now = timezone.now()
    cases = [  # the shapes the order path builds
        (Order, dict(market=market, user=user, side="buy", type="limit", price=2_500, quantity=1_000, created_at=now)),
        (Order, dict(pk=11, user_id=7, side="sell", price=2_400, filled_quantity=5, status="partially_filled")),
        (Trade, dict(market=market, price=2_500, quantity=5, maker_order_id=11, buyer_id=7, seller_id=8)),
        (JournalEntry, dict(pk=12, kind=JournalEntry.Kind.TRADE, created_at=now)),
        (Posting, dict(entry_id=12, account_id=4, amount=-125)),
        (Account, dict(user_id=None, currency_id=2, kind=Account.Kind.FEE, balance=0, held=0)),
        (get_user_model(), dict(pk=7)),
    ]
    for model, values in cases:
        made, expected = new_instance(model, **values), model(**values)
        called = {field.attname: None for field in model._meta.concrete_fields if callable(field.default)}  # now()
        assert {**made.__dict__, "_state": None, **called} == {**expected.__dict__, "_state": None, **called}, model
        assert all(isinstance(made.__dict__[name], type(expected.__dict__[name])) for name in called)
        assert made._state.fields_cache == expected._state.fields_cache
        assert (made._state.adding, made._state.db) == (True, None)
    assert new_instance(Order, market=market).market is market and new_instance(Order, market=None).market_id is None
    with pytest.raises(TypeError):
        new_instance(Order, colour="red")


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
