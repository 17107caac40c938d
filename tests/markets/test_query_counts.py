"""The hot path's SQL statements are pinned: a change that adds a round trip per order fails here."""

import pytest
from django.db import connection

from tests.markets.conftest import place

pytestmark = pytest.mark.django_db

# Each figure is database round trips: the settlement sends its writes to PostgreSQL as one multi-statement query
# (exchange/db.run_statements), which SQLite, having no round trips, runs statement by statement.
# Inside a test the service's transaction is a savepoint: 2 of each count are SAVEPOINT and RELEASE, which in
# production are the transaction's BEGIN and COMMIT.


def round_trips(postgresql: int, sqlite: int) -> int:
    return postgresql if connection.vendor == "postgresql" else sqlite


# A resting order: lock the market; read the book; lock the accounts and count own open orders; write the order,
# the accounts, the sequence and the changed level.
RESTING_ORDER = 2 + 4
# A crossing order that fills: lock the market; read the book; lock the accounts; insert the order and the
# journal entries; write postings, trades, candle, accounts, makers, sequence and levels — however many
# makers.
ORDER_TAKING_MAKERS = 2 + 5
# Find the order's market; lock the market and re-read the order; lock the account; write the account, the order and
# the sequence and the level.
CANCEL = 2 + 4


def test_a_resting_limit_order(gold_buck, traders, django_assert_num_queries):
    buyer, _ = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)  # accounts exist from here on
    with django_assert_num_queries(round_trips(RESTING_ORDER, 2 + 9)):
        place(buyer, gold_buck, "buy", quantity=100, price=2_000)


def test_a_client_order_id_costs_no_round_trip(gold_buck, traders, django_assert_num_queries):
    buyer, _ = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    with django_assert_num_queries(round_trips(RESTING_ORDER, 2 + 10)):  # SQLite: the look-up is one more statement
        place(buyer, gold_buck, "buy", quantity=100, price=2_000, client_order_id="bot-1")
    with django_assert_num_queries(round_trips(2 + 2, 2 + 3)):  # a retry: lock and look up, read the first order
        again = place(buyer, gold_buck, "buy", quantity=100, price=2_000, client_order_id="bot-1")
    assert again.client_order_id == "bot-1"


def test_an_order_that_trades_with_resting_orders(gold_buck, traders, django_assert_num_queries):
    seller, buyer = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    for _ in range(3):
        place(seller, gold_buck, "sell", quantity=100, price=2_500)
    with django_assert_num_queries(round_trips(ORDER_TAKING_MAKERS, 2 + 13)):
        place(buyer, gold_buck, "buy", quantity=100, price=2_500)
    # Two makers cost no more round trips than one.
    with django_assert_num_queries(round_trips(ORDER_TAKING_MAKERS, 2 + 13)):
        place(buyer, gold_buck, "buy", quantity=200, price=2_500)


def test_a_cancel(gold_buck, traders, django_assert_num_queries):
    from markets.services import order_cancel

    buyer, _ = traders
    order = place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    with django_assert_num_queries(round_trips(CANCEL, 2 + 9)):
        order_cancel(user=buyer, order_id=order.pk)
