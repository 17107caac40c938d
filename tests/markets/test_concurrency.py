"""Orders under real concurrency on PostgreSQL: threads with their own connections, real row locks."""

import random

import pytest

from exchange.errors import IdempotencyConflict, InsufficientFunds, OrderNotOpen
from ledger import services as ledger
from markets import services as markets
from markets.models import Order, Trade
from tests.concurrency import run_together
from tests.conftest import fund, make_currency, make_user
from tests.helpers import assert_audit_passes, balance_of
from tests.markets.conftest import account, place

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_seed_case_two_orders_racing_for_the_same_funds(gold_buck):
    """30 BUCK, two buy orders each needing 20 at the same moment: exactly one is accepted."""
    for round_number in range(30):
        buyer = make_user(f"buyer{round_number}")
        fund(buyer, gold_buck.quote, 3_000)
        results = run_together([lambda: place(buyer, gold_buck, "buy", quantity=1_000, price=2_000)] * 2)
        accepted = [r for r in results if isinstance(r, Order)]
        refused = [r for r in results if isinstance(r, InsufficientFunds)]
        assert (len(accepted), len(refused)) == (1, 1), results
        assert account(buyer, gold_buck.quote).held == 2_000
    assert_audit_passes()


def test_an_order_and_a_transfer_racing_for_the_same_funds(gold_buck, carol):
    for round_number in range(30):
        buyer = make_user(f"buyer{round_number}")
        fund(buyer, gold_buck.quote, 3_000)
        results = run_together(
            [
                lambda: place(buyer, gold_buck, "buy", quantity=1_000, price=2_000),
                lambda: ledger.transfer_create(sender=buyer, recipient=carol, currency=gold_buck.quote, amount=2_000),
            ]
        )
        assert sum(isinstance(r, InsufficientFunds) for r in results) == 1, results
        assert balance_of(buyer, gold_buck.quote) - account(buyer, gold_buck.quote).held == 1_000
    assert_audit_passes()


def test_a_cancel_and_a_fill_of_the_same_order_at_once(gold_buck, traders):
    seller, buyer = traders
    rounds = 200
    fund(seller, gold_buck.base, rounds * 1_000)  # enough GOLD should every fill win
    for _ in range(rounds):
        ask = place(seller, gold_buck, "sell", quantity=1_000, price=2_500)
        results = run_together(
            [
                lambda: markets.order_cancel(user=seller, order_id=ask.pk),
                lambda: place(buyer, gold_buck, "buy", quantity=1_000, price=2_500, time_in_force="ioc"),
            ]
        )
        ask.refresh_from_db()
        taker = results[1]
        if isinstance(results[0], OrderNotOpen):  # the fill won
            assert (ask.status, taker.status) == ("filled", "filled")
        else:  # the cancel won: the buyer found nothing
            assert (ask.status, taker.status, taker.filled_quantity) == ("cancelled", "cancelled", 0)
        assert ask.reserved == 0
    assert account(seller, gold_buck.base).held == 0
    assert_audit_passes()


def test_a_hundred_orders_each_wanting_the_whole_balance(gold_buck):
    for round_number in range(3):
        buyer = make_user(f"greedy{round_number}")
        fund(buyer, gold_buck.quote, 2_500)
        results = run_together([lambda: place(buyer, gold_buck, "buy", quantity=1_000, price=2_500)] * 100, timeout=120)
        assert sum(isinstance(r, Order) for r in results) == 1
        assert sum(isinstance(r, InsufficientFunds) for r in results) == 99
    assert_audit_passes()


def test_storm_of_orders_cancels_and_transfers_in_three_markets(alice, bob):
    """8 threads, 2,000 operations over 3 markets that share currencies, transfers beside them."""
    gold = make_currency(bob, "GOLD", decimals=3)
    buck = make_currency(alice, "BUCK", decimals=2)
    hour = make_currency(alice, "HOUR", decimals=1)
    all_markets = [
        markets.market_create(user=alice, base=gold, quote=buck, taker_fee_bps=20, maker_fee_bps=5),
        markets.market_create(user=alice, base=hour, quote=buck),
        markets.market_create(user=alice, base=gold, quote=hour),
    ]
    users = [make_user(f"t{i}") for i in range(8)]
    for user in users:
        fund(user, gold, 200_000)
        fund(user, buck, 5_000_000)
        fund(user, hour, 200_000)
    mids = {all_markets[0].pk: 2_500, all_markets[1].pk: 500, all_markets[2].pk: 50}

    def worker(seed: int):
        rng = random.Random(seed)
        unexpected = []
        for _ in range(250):
            user = rng.choice(users)
            market = rng.choice(all_markets)
            roll = rng.random()
            try:
                if roll < 0.55:
                    price = max(market.tick, (mids[market.pk] + rng.randint(-5, 5) * market.tick) // market.tick * market.tick)
                    place(user, market, rng.choice(["buy", "sell"]), quantity=market.lot * rng.randint(1, 20), price=price,
                          time_in_force=rng.choice(["gtc", "gtc", "ioc", "fok"]))
                elif roll < 0.65:
                    if rng.random() < 0.5:
                        place(user, market, "sell", type="market", quantity=market.lot * rng.randint(1, 10))
                    else:
                        place(user, market, "buy", type="market", quote_budget=rng.randint(1_000, 50_000))
                elif roll < 0.85:
                    mine = list(Order.objects.filter(user=user, status__in=("open", "partially_filled")).values_list("pk", flat=True)[:5])
                    if mine:
                        markets.order_cancel(user=user, order_id=rng.choice(mine))
                else:
                    other = rng.choice([u for u in users if u != user])
                    ledger.transfer_create(sender=user, recipient=other, currency=rng.choice([gold, buck, hour]),
                                           amount=rng.randint(1, 20_000))
            except (InsufficientFunds, OrderNotOpen):
                pass  # an expected refusal under contention
            except Exception as error:  # noqa: BLE001 - anything else is a bug to report
                unexpected.append(repr(error))
        return unexpected

    results = run_together([lambda seed=seed: worker(seed) for seed in range(8)], timeout=600)
    assert results == [[]] * 8  # no deadlock, serialization or other error reached a caller
    assert Trade.objects.count() > 100
    assert_audit_passes()


def test_cancel_all_racing_takers_releases_exactly_what_is_left(gold_buck, traders):
    seller, buyer = traders
    fund(seller, gold_buck.base, 100_000)
    for _ in range(30):
        for price in (2_500, 2_510, 2_520):
            place(seller, gold_buck, "sell", quantity=1_000, price=price)
        results = run_together(
            [
                lambda: markets.orders_cancel_all(user=seller, market_id=gold_buck.pk),
                lambda: place(buyer, gold_buck, "buy", quantity=2_000, price=2_520, time_in_force="ioc"),
            ]
        )
        assert not any(isinstance(r, Exception) for r in results), results
        assert account(seller, gold_buck.base).held == 0
        assert not Order.objects.filter(user=seller, status__in=("open", "partially_filled")).exists()
    assert_audit_passes()


def test_one_client_order_id_placed_in_two_markets_at_once_makes_one_order(gold_buck, traders, alice):
    """Both placements pass the look-up under their own market's lock; the insert lets one in and refuses the other,
    which leaves nothing behind: no order, no hold, no trade, no level."""
    seller, buyer = traders
    hour = make_currency(alice, "HOUR", decimals=1)
    hour_buck = markets.market_create(user=alice, base=hour, quote=gold_buck.quote)
    fund(buyer, hour, 10_000)
    place(seller, gold_buck, "sell", quantity=100, price=2_500)  # so that one of them may trade
    for round_number in range(20):
        client_order_id = f"bot-{round_number}"
        results = run_together(
            [
                lambda: place(buyer, gold_buck, "buy", quantity=100, price=2_500 if round_number % 2 else 2_000,
                              client_order_id=client_order_id),
                lambda: place(buyer, hour_buck, "sell", quantity=10, price=3_000, client_order_id=client_order_id),
            ]
        )
        placed = [r for r in results if isinstance(r, Order)]
        refused = [r for r in results if isinstance(r, IdempotencyConflict)]
        assert (len(placed), len(refused)) == (1, 1), results
        assert list(Order.objects.filter(user=buyer, client_order_id=client_order_id)) == placed
        if round_number % 2:  # keep an ask at 25.00 for the next trading round
            place(seller, gold_buck, "sell", quantity=100, price=2_500)
    assert_audit_passes()
