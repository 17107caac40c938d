"""The hot path's SQL statements are pinned: a change that adds a round trip per order fails here."""

import pytest

from tests.markets.conftest import place

pytestmark = pytest.mark.django_db

# Inside a test the service's transaction is a savepoint: 2 of each count are SAVEPOINT and RELEASE, which in
# production are the transaction's BEGIN and COMMIT.
# A resting order: lock market, own accounts, book read, lock accounts, count own open orders, insert order,
# save accounts, bump sequence, level totals.
RESTING_ORDER = 2 + 9
# A crossing order that fills: as a resting one but no count, plus journal entries, postings, trades, makers'
# update, candle upsert: one each however many makers.
ORDER_TAKING_MAKERS = 2 + 13
# Find the order's market, lock market, re-read order, lock account, save account, save order, bump, levels.
CANCEL = 2 + 8


def test_a_resting_limit_order(gold_buck, traders, django_assert_num_queries):
    buyer, _ = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)  # accounts exist from here on
    with django_assert_num_queries(RESTING_ORDER):
        place(buyer, gold_buck, "buy", quantity=100, price=2_000)


def test_an_order_that_trades_with_resting_orders(gold_buck, traders, django_assert_num_queries):
    seller, buyer = traders
    place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    for _ in range(3):
        place(seller, gold_buck, "sell", quantity=100, price=2_500)
    with django_assert_num_queries(ORDER_TAKING_MAKERS):
        place(buyer, gold_buck, "buy", quantity=100, price=2_500)
    with django_assert_num_queries(ORDER_TAKING_MAKERS):  # two makers cost no more statements than one
        place(buyer, gold_buck, "buy", quantity=200, price=2_500)


def test_a_cancel(gold_buck, traders, django_assert_num_queries):
    from markets.services import order_cancel

    buyer, _ = traders
    order = place(buyer, gold_buck, "buy", quantity=100, price=2_000)
    with django_assert_num_queries(CANCEL):
        order_cancel(user=buyer, order_id=order.pk)
