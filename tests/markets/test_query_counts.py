"""The hot path's SQL is pinned: a change that adds a statement or a round trip per order fails here."""

from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.db import connection

from exchange.db import SEPARATOR
from tests.helpers import sending_into
from tests.markets.conftest import place

pytestmark = pytest.mark.django_db
HOUSEKEEPING = ("PREPARE ", "DEALLOCATE ")  # exchange/prepared.py: sent along with a statement, not counted

# Each case pins two figures: SQL statements, and database round trips. On PostgreSQL exchange/db.run_statements
# sends a list of statements as one query string, one round trip; SQLite, having no round trips, runs them one by
# one, so there the two figures are equal.
# Inside a test the service's transaction is a savepoint: 2 of each figure are SAVEPOINT and RELEASE. In production
# they are the transaction's BEGIN and COMMIT, which go in its first and last round trips (exchange/db.py).


def on(postgresql: tuple[int, int], sqlite: tuple[int, int]) -> tuple[int, int]:
    """(statements, round trips) expected on the database under test."""
    return postgresql if connection.vendor == "postgresql" else sqlite


@contextmanager
def sql_counted():
    """Count the statements run inside the block and the round trips they took: what went through a cursor.
    (Not CaptureQueriesContext: it also lists Django's BEGIN and COMMIT markers, which are no round trip when the
    transaction began with its first statements or ended with its last.)"""
    figures = SimpleNamespace(sent=[])
    with sending_into(figures.sent):
        yield figures
    figures.statements = sum(not part.startswith(HOUSEKEEPING) for sql in figures.sent for part in sql.split(SEPARATOR))
    figures.round_trips = len(figures.sent)
    figures.both = (figures.statements, figures.round_trips)


# A resting order. One round trip: lock the market, read the book, lock the accounts (nothing crosses, so no one
# else's are needed) and count own open orders. Another: write the order, the accounts, the sequence and the level
# (an upsert, and a delete of emptied levels).
RESTING_ORDER = on(postgresql=(2 + 9, 2 + 2), sqlite=(2 + 9, 2 + 9))
# A crossing order that fills, however many makers. One round trip: lock the market, read the book (the speculative
# account lock finds the book crossed and locks nothing) and count own open orders. Another: lock the accounts in key
# order and draw the keys of the order and its journal entries. A third: write the order, the journal entries,
# postings, trades, candle, accounts, makers, sequence and levels. SQLite has no sequences to draw keys from: it
# inserts the order and the journal entries first to learn them.
ORDER_TAKING_MAKERS = on(postgresql=(2 + 17, 2 + 3), sqlite=(2 + 15, 2 + 15))
# A cancel. One round trip: lock the order's market, read the order under that lock, lock the owner's accounts.
# Another: write the account, the order, the sequence and the level. Cancelling all of a user's orders in a market
# takes the same, however many there are.
CANCEL = on(postgresql=(2 + 8, 2 + 2), sqlite=(2 + 8, 2 + 8))


def test_a_resting_limit_order(gold_buck, traders):
    buyer, _ = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)  # accounts exist from here on
    with sql_counted() as sql:
        place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    assert sql.both == RESTING_ORDER


def test_a_client_order_id_costs_no_round_trip(gold_buck, traders):
    buyer, _ = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    with sql_counted() as sql:
        place(buyer, gold_buck, "buy", quantity=100, price=2_000, client_order_id="bot-1")
    assert sql.both == on(postgresql=(2 + 10, 2 + 2), sqlite=(2 + 10, 2 + 10))  # the look-up is one more statement
    with sql_counted() as sql:  # a retry: the first round trip finds the order; read it
        again = place(buyer, gold_buck, "buy", quantity=100, price=2_000, client_order_id="bot-1")
    assert sql.both == on(postgresql=(2 + 6, 2 + 2), sqlite=(2 + 6, 2 + 6))
    assert again.client_order_id == "bot-1"


def test_an_order_that_trades_with_resting_orders(gold_buck, traders):
    seller, buyer = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    for _ in range(3):
        place(seller, gold_buck, "sell", quantity=100, price=2_500)
    with sql_counted() as sql:
        place(buyer, gold_buck, "buy", quantity=100, price=2_500)
    assert sql.both == ORDER_TAKING_MAKERS
    with sql_counted() as sql:  # two makers cost no more than one
        place(buyer, gold_buck, "buy", quantity=200, price=2_500)
    assert sql.both == ORDER_TAKING_MAKERS


def test_a_cancel(gold_buck, traders):
    from markets.services import order_cancel

    buyer, _ = traders
    order = place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    with sql_counted() as sql:
        order_cancel(user=buyer, order_id=order.pk)
    assert sql.both == CANCEL


def test_cancelling_all_of_a_users_orders(gold_buck, traders):
    from markets.services import orders_cancel_all

    buyer, _ = traders
    for price in (1_000, 2_000, 2_000):
        place(buyer, gold_buck, "buy", quantity=100, price=price)
    with sql_counted() as sql:
        cancelled = orders_cancel_all(user=buyer, market_id=gold_buck.pk)
    assert len(cancelled) == 3
    assert sql.both == CANCEL


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outside_a_tests_transaction_begin_and_commit_cost_no_round_trip(gold_buck, traders):
    """In production the service's block is the outermost: BEGIN goes in its first round trip and COMMIT in its last,
    so each case is the statements pinned above in two round trips fewer (no SAVEPOINT or RELEASE to send)."""
    from markets.services import order_cancel

    seller, buyer = traders
    resting = place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    place(seller, gold_buck, "sell", quantity=100, price=2_500)
    cases = [
        (lambda: place(buyer, gold_buck, "buy", quantity=100, price=2_000), RESTING_ORDER),
        (lambda: place(buyer, gold_buck, "buy", quantity=100, price=2_500), ORDER_TAKING_MAKERS),
        (lambda: order_cancel(user=buyer, order_id=resting.pk), CANCEL),
    ]
    for call, (statements, round_trips) in cases:
        with sql_counted() as sql:
            call()
        assert sql.both == (statements, round_trips - 2)
        assert sql.sent[0].startswith("BEGIN" + SEPARATOR) and sql.sent[-1].endswith(SEPARATOR + "COMMIT")
