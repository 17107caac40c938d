"""Book levels: each (side, price) keeps the open quantity of its orders through every kind of change."""

import pytest
from django.db import IntegrityError, transaction

from exchange.db import run_statements
from ledger.audit import run_all
from markets import selectors, store
from markets import services as markets
from markets.models import BookLevel
from tests.helpers import assert_audit_passes
from tests.markets.conftest import place

pytestmark = pytest.mark.django_db


def levels(market) -> dict:
    return {(side, price): quantity for side, price, quantity in market.levels.values_list("side", "price", "quantity")}


def test_levels_follow_resting_filling_self_trade_and_cancelling(gold_buck, traders):
    seller, buyer = traders
    first = place(seller, gold_buck, "sell", quantity=1_000, price=2_500)
    place(seller, gold_buck, "sell", quantity=500, price=2_500)
    place(seller, gold_buck, "sell", quantity=300, price=2_600)
    place(buyer, gold_buck, "buy", quantity=200, price=2_000)
    assert levels(gold_buck) == {("sell", 2_500): 1_500, ("sell", 2_600): 300, ("buy", 2_000): 200}

    place(buyer, gold_buck, "buy", quantity=1_200, price=2_500)  # takes 1,000 and 200 of the 500 at 25.00
    assert levels(gold_buck) == {("sell", 2_500): 300, ("sell", 2_600): 300, ("buy", 2_000): 200}

    place(buyer, gold_buck, "buy", quantity=700, price=2_600)  # clears 25.00 and 26.00; 100 rests at 26.00
    assert levels(gold_buck) == {("buy", 2_600): 100, ("buy", 2_000): 200}

    place(buyer, gold_buck, "sell", quantity=100, price=2_000)  # meets only its own bids: both cancelled; it rests
    assert levels(gold_buck) == {("sell", 2_000): 100}

    markets.orders_cancel_all(user=buyer, market_id=gold_buck.pk)
    assert levels(gold_buck) == {}
    assert first.pk and not BookLevel.objects.exists()
    assert_audit_passes()


def test_the_database_refuses_a_level_below_zero(gold_buck, traders):
    """The settlement's statements end in COMMIT, so no check in Python after them could roll back: the database
    refuses a level that would go below zero, whether the change meets the level (an update) or makes it."""
    seller, _ = traders
    place(seller, gold_buck, "sell", quantity=100, price=2_500)
    for level, change in ((("sell", 2_500), -101), (("sell", 2_600), -1), (("buy", 2_000), -5)):
        with pytest.raises(IntegrityError, match="below zero"), transaction.atomic():
            run_statements(store.level_change_statements({(gold_buck.pk, *level): change}))
    with transaction.atomic():  # down to zero is allowed; the level is then deleted
        run_statements(store.level_change_statements({(gold_buck.pk, "sell", 2_500): -100}))
    assert levels(gold_buck) == {}


def test_a_snapshot_reads_the_levels_best_first(gold_buck, traders):
    seller, buyer = traders
    for price in (2_500, 2_700, 2_600):
        place(seller, gold_buck, "sell", quantity=100, price=price)
    for price in (2_000, 2_200):
        place(buyer, gold_buck, "buy", quantity=300, price=price)
        place(buyer, gold_buck, "buy", quantity=100, price=price)

    snapshot = selectors.book_snapshot(market=gold_buck, depth=2)

    assert snapshot.asks == [(2_500, 100), (2_600, 100)]
    assert snapshot.bids == [(2_200, 400), (2_000, 400)]
    ticker = selectors.ticker(market=gold_buck)
    assert (ticker.best_bid, ticker.best_ask) == (2_200, 2_500)


def test_the_audit_catches_a_level_that_disagrees_with_its_orders(gold_buck, traders):
    seller, _ = traders
    place(seller, gold_buck, "sell", quantity=100, price=2_500)
    BookLevel.objects.filter(market=gold_buck).update(quantity=150)
    BookLevel.objects.create(market=gold_buck, side="buy", price=1_000, quantity=5)

    [violations] = [found for title, found in run_all() if title.startswith("6b.")]

    assert violations == [
        f"market {gold_buck.pk} sell 2500: level says 150, open orders hold 100",
        f"market {gold_buck.pk} buy 1000: level says 5, open orders hold 0",
    ]
