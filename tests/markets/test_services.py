"""Placing and cancelling orders: holds, trades, journal legs, fees, and every refusal changing nothing."""

import pytest

from exchange.errors import (
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidPrice,
    InvalidQuantity,
    MarketHalted,
    NotFound,
    OrderNotOpen,
    PermissionDenied,
    ValidationFailed,
)
from ledger.models import Account
from markets import selectors
from markets import services as markets
from markets.models import BookLevel, Market, Order, Trade
from tests.conftest import make_currency
from tests.helpers import assert_audit_passes, ledger_state
from tests.markets.conftest import account, place

pytestmark = pytest.mark.django_db

# GOLD has 3 decimals, BUCK 2: 1 GOLD = 1_000 minor units; a price of 25.00 BUCK per GOLD = 2_500.


def market_state() -> dict:
    return ledger_state() | {
        "orders": sorted(Order.objects.values_list("id", "status", "filled_quantity", "reserved")),
        "trades": Trade.objects.count(),
        "sequences": sorted(Market.objects.values_list("id", "sequence")),
        "levels": sorted(BookLevel.objects.values_list("market_id", "side", "price", "quantity")),
    }


def test_default_steps_keep_every_trade_exact(gold_buck):
    assert (gold_buck.lot, gold_buck.tick, gold_buck.symbol) == (100, 10, "GOLD-BUCK")
    assert (gold_buck.lot * gold_buck.tick) % 1_000 == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"tick": 1, "lot": 1}, "tick"),  # 1 x 1 is not a multiple of 1000
        ({"tick": 0}, "tick"),
        ({"lot": -100}, "lot"),
        ({"min_quantity": 150}, "min_quantity"),
        ({"taker_fee_bps": 1001}, "taker_fee_bps"),
        ({"maker_fee_bps": -1}, "maker_fee_bps"),
    ],
)
def test_market_create_rejects_steps_that_could_round(alice, gold_buck, options, field):
    other = make_currency(alice, "OTHER")
    with pytest.raises(ValidationFailed) as raised:
        markets.market_create(user=alice, base=gold_buck.base, quote=other, **options)
    assert field in raised.value.fields
    assert not Market.objects.filter(quote=other).exists()


def test_one_market_per_ordered_pair(alice, gold_buck):
    with pytest.raises(Conflict):
        markets.market_create(user=alice, base=gold_buck.base, quote=gold_buck.quote)
    reverse = markets.market_create(user=alice, base=gold_buck.quote, quote=gold_buck.base)
    assert reverse.symbol == "BUCK-GOLD"
    with pytest.raises(ValidationFailed):
        markets.market_create(user=alice, base=gold_buck.base, quote=gold_buck.base)


def test_a_resting_buy_holds_quantity_times_price(gold_buck, traders):
    buyer, _ = traders
    order = place(buyer, gold_buck, "buy", quantity=2_000, price=2_500)  # 2 GOLD at 25.00
    assert (order.status, order.reserved) == ("open", 5_000)
    assert account(buyer, gold_buck.quote).held == 5_000
    assert gold_buck.sequence + 1 == Market.objects.get(pk=gold_buck.pk).sequence
    assert_audit_passes()


def test_a_crossing_order_trades_at_the_makers_price_and_settles_both_legs(gold_buck, traders):
    seller, buyer = traders
    ask = place(seller, gold_buck, "sell", quantity=1_000, price=2_500)
    bid = place(buyer, gold_buck, "buy", quantity=1_000, price=2_600)  # willing to pay more
    trade = Trade.objects.get()
    assert (trade.price, trade.quantity, trade.quote_amount) == (2_500, 1_000, 2_500)
    assert (trade.buyer, trade.seller, trade.taker_side) == (buyer, seller, "buy")
    legs = sorted((p.account.user.username, p.account.currency.code, p.amount) for p in trade.entry.postings.all())
    assert legs == [
        ("trader1", "BUCK", 2_500),
        ("trader1", "GOLD", -1_000),
        ("trader2", "BUCK", -2_500),
        ("trader2", "GOLD", 1_000),
    ]
    bid.refresh_from_db()
    ask.refresh_from_db()
    assert (bid.status, bid.reserved, ask.status, ask.reserved) == ("filled", 0, "filled", 0)
    # The better price released what the limit had asked to hold: nothing stays held.
    assert account(buyer, gold_buck.quote).held == 0
    assert account(buyer, gold_buck.quote).balance == 1_000_000 - 2_500
    assert_audit_passes()


def test_partial_fill_rests_the_remainder_with_the_right_hold(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=500, price=2_500)
    bid = place(buyer, gold_buck, "buy", quantity=2_000, price=2_600)
    assert (bid.status, bid.filled_quantity, bid.reserved) == ("partially_filled", 500, 1_500 * 2_600 // 1_000)
    book = selectors.book_snapshot(market=gold_buck)
    assert book.bids == [(2_600, 1_500)] and book.asks == []
    assert_audit_passes()


def test_walking_several_levels_in_price_time_priority(gold_buck, traders, carol):
    seller, buyer = traders
    first = place(seller, gold_buck, "sell", quantity=300, price=2_500)
    second = place(seller, gold_buck, "sell", quantity=300, price=2_500)
    dearer = place(seller, gold_buck, "sell", quantity=300, price=2_600)
    place(buyer, gold_buck, "buy", quantity=800, price=2_600)
    fills = list(Trade.objects.order_by("id").values_list("maker_order_id", "price", "quantity"))
    assert fills == [(first.pk, 2_500, 300), (second.pk, 2_500, 300), (dearer.pk, 2_600, 200)]
    assert_audit_passes()


def test_market_buy_spends_at_most_its_budget(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=1_000, price=2_500)
    place(seller, gold_buck, "sell", quantity=1_000, price=3_000)
    order = place(buyer, gold_buck, "buy", type="market", quote_budget=4_000)
    # 1 GOLD for 25.00, then 0.5 GOLD at 30.00 = 15.00: 40.00 in all.
    assert (order.filled_quantity, order.filled_quote, order.reserved) == (1_500, 4_000, 0)
    assert account(buyer, gold_buck.quote).held == 0
    assert_audit_passes()


def test_market_sell_with_no_bids_is_cancelled_and_holds_nothing(gold_buck, traders):
    seller, _ = traders
    order = place(seller, gold_buck, "sell", type="market", quantity=1_000)
    assert (order.status, order.reason, order.reserved) == ("cancelled", "no_liquidity", 0)
    assert account(seller, gold_buck.base).held == 0
    assert_audit_passes()


def test_fill_or_kill_that_cannot_fill_changes_nothing_but_its_record(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=500, price=2_500)
    before = market_state()
    order = place(buyer, gold_buck, "buy", quantity=1_000, price=2_500, time_in_force="fok")
    assert (order.status, order.reason) == ("rejected", "fok_not_fillable")
    after = market_state()
    after["orders"] = [row for row in after["orders"] if row[0] != order.pk]
    assert after == before


def test_post_only_that_would_take_is_rejected(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=500, price=2_500)
    order = place(buyer, gold_buck, "buy", quantity=500, price=2_500, post_only=True)
    assert (order.status, order.reason) == ("rejected", "post_only_would_take")
    assert Trade.objects.count() == 0
    resting = place(buyer, gold_buck, "buy", quantity=500, price=2_400, post_only=True)
    assert resting.status == "open"


def test_immediate_or_cancel_cancels_the_remainder(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=500, price=2_500)
    order = place(buyer, gold_buck, "buy", quantity=1_000, price=2_500, time_in_force="ioc")
    assert (order.status, order.filled_quantity, order.reserved) == ("cancelled", 500, 0)
    assert account(buyer, gold_buck.quote).held == 0
    assert_audit_passes()


def test_self_trade_prevention_cancels_the_resting_order_by_default(gold_buck, traders):
    trader, _ = traders
    own_ask = place(trader, gold_buck, "sell", quantity=500, price=2_500)
    bid = place(trader, gold_buck, "buy", quantity=500, price=2_500)
    own_ask.refresh_from_db()
    assert (own_ask.status, own_ask.reason) == ("cancelled", "self_trade")
    assert bid.status == "open" and Trade.objects.count() == 0
    assert account(trader, gold_buck.base).held == 0
    assert_audit_passes()


def test_self_trade_prevention_can_cancel_the_incoming_order(gold_buck, traders):
    trader, _ = traders
    own_ask = place(trader, gold_buck, "sell", quantity=500, price=2_500)
    bid = place(trader, gold_buck, "buy", quantity=500, price=2_500, self_trade="cancel_incoming")
    own_ask.refresh_from_db()
    assert (own_ask.status, bid.status, bid.reason) == ("open", "cancelled", "self_trade")
    assert_audit_passes()


def test_fees_go_to_the_fee_account_in_the_same_entry(alice, bob, gold_buck, traders):
    gold_buck.maker_fee_bps, gold_buck.taker_fee_bps = 10, 20
    gold_buck.save(update_fields=["maker_fee_bps", "taker_fee_bps"])
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=10_000, price=2_500)  # maker: pays 0.1 % of the BUCK it gets
    place(buyer, gold_buck, "buy", quantity=10_000, price=2_500)  # taker: pays 0.2 % of the GOLD it gets
    trade = Trade.objects.get()
    assert (trade.seller_fee, trade.buyer_fee) == (25, 20)
    fee_buck = Account.objects.get(currency=gold_buck.quote, kind="fee")
    fee_gold = Account.objects.get(currency=gold_buck.base, kind="fee")
    assert (fee_buck.balance, fee_gold.balance) == (25, 20)
    assert account(buyer, gold_buck.base).balance == 100_000 + 10_000 - 20
    assert trade.entry.postings.count() == 6
    assert_audit_passes()


def test_cancel_releases_exactly_what_the_order_still_held(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=500, price=2_500)
    bid = place(buyer, gold_buck, "buy", quantity=2_000, price=2_500)
    assert account(buyer, gold_buck.quote).held == 3_750
    cancelled = markets.order_cancel(user=buyer, order_id=bid.pk)
    assert (cancelled.status, cancelled.reserved, cancelled.filled_quantity) == ("cancelled", 0, 500)
    assert account(buyer, gold_buck.quote).held == 0
    assert_audit_passes()


def test_cancel_all_in_a_market(gold_buck, traders):
    trader, _ = traders
    for price in (2_000, 2_100, 2_200):
        place(trader, gold_buck, "buy", quantity=100, price=price)
    place(trader, gold_buck, "sell", quantity=100, price=3_000)
    cancelled = markets.orders_cancel_all(user=trader, market_id=gold_buck.pk)
    assert len(cancelled) == 4
    assert account(trader, gold_buck.quote).held == 0 and account(trader, gold_buck.base).held == 0
    assert_audit_passes()


def test_someone_elses_order_is_not_found_and_a_filled_one_cannot_be_cancelled(gold_buck, traders):
    seller, buyer = traders
    ask = place(seller, gold_buck, "sell", quantity=500, price=2_500)
    before = market_state()
    with pytest.raises(NotFound):
        markets.order_cancel(user=buyer, order_id=ask.pk)
    with pytest.raises(NotFound):
        markets.order_cancel(user=buyer, order_id=999_999)
    assert market_state() == before
    place(buyer, gold_buck, "buy", quantity=500, price=2_500)
    before = market_state()
    with pytest.raises(OrderNotOpen):
        markets.order_cancel(user=seller, order_id=ask.pk)
    assert market_state() == before


@pytest.mark.parametrize(
    ("order", "error"),
    [
        ({"side": "buy", "quantity": 1_000, "price": 2_505}, InvalidPrice),  # off the tick
        ({"side": "buy", "quantity": 1_050, "price": 2_500}, InvalidQuantity),  # off the lot
        ({"side": "buy", "quantity": 0, "price": 2_500}, InvalidQuantity),
        ({"side": "buy", "quantity": -100, "price": 2_500}, InvalidQuantity),
        ({"side": "buy", "quantity": 1_000, "price": 0}, InvalidPrice),
        ({"side": "buy", "quantity": 1_000, "price": -10}, InvalidPrice),
        ({"side": "buy", "quantity": 1_000}, InvalidPrice),  # a limit order without a price
        ({"side": "buy", "price": 2_500}, InvalidQuantity),
        ({"side": "buy", "quantity": 2**62, "price": 2**40}, InvalidQuantity),  # past 64 bits once multiplied
        ({"side": "hold", "quantity": 1_000, "price": 2_500}, ValidationFailed),
        ({"side": "buy", "quantity": 1_000, "price": 2_500, "type": "stop"}, ValidationFailed),
        ({"side": "buy", "quantity": 1_000, "price": 2_500, "time_in_force": "day"}, ValidationFailed),
        ({"side": "buy", "quantity": 1_000, "price": 2_500, "self_trade": "allow"}, ValidationFailed),
        ({"side": "buy", "quantity": 1_000, "price": 2_500, "time_in_force": "ioc", "post_only": True}, ValidationFailed),
        ({"side": "buy", "type": "market", "quantity": 1_000}, ValidationFailed),  # market buy without a budget
        ({"side": "sell", "type": "market", "quantity": 1_000, "price": 2_500}, InvalidPrice),
        ({"side": "buy", "quantity": 1_000_000, "price": 2_500}, InsufficientFunds),  # 2,500,000 BUCK
        ({"side": "sell", "quantity": 200_000, "price": 2_500}, InsufficientFunds),  # 200 GOLD
        ({"side": "buy", "quantity": 1_000, "price": 2_500, "client_order_id": "x" * 65}, ValidationFailed),
    ],
    ids=lambda value: str(value)[:70],
)
def test_bad_orders_are_refused_and_change_nothing(gold_buck, traders, order, error):
    trader, other = traders
    place(other, gold_buck, "sell", quantity=100, price=3_000)
    before = market_state()
    with pytest.raises(error):
        place(trader, gold_buck, **order)
    assert market_state() == before


def test_min_quantity_is_enforced(alice, gold_buck, traders):
    big = markets.market_create(user=alice, base=gold_buck.quote, quote=gold_buck.base, min_quantity=1_000, lot=100, tick=1)
    with pytest.raises(InvalidQuantity) as raised:
        place(traders[0], big, "sell", quantity=900, price=10)
    assert "smallest" in raised.value.message


def test_halted_market_refuses_orders_until_resumed(alice, gold_buck, traders):
    from django.contrib.auth.models import User

    staff = User.objects.create_user("staff", is_staff=True)
    with pytest.raises(PermissionDenied):
        markets.market_set_status(user=alice, market=gold_buck, halted=True)
    markets.market_set_status(user=staff, market=gold_buck, halted=True, reason="Maintenance")
    before = market_state()
    with pytest.raises(MarketHalted) as raised:
        place(traders[0], gold_buck, "buy", quantity=100, price=2_500)
    assert raised.value.status == 503 and "Maintenance" in raised.value.message
    assert market_state() == before
    markets.market_set_status(user=staff, market=gold_buck, halted=False)
    assert place(traders[0], gold_buck, "buy", quantity=100, price=2_500).status == "open"


def test_unknown_market_is_not_found(traders):
    from markets.services import OrderRequest

    with pytest.raises(NotFound):
        markets.order_place(user=traders[0], market_id=424242, request=OrderRequest(side="buy", type="limit"))


def test_client_order_id_makes_placement_idempotent(gold_buck, traders):
    trader, _ = traders
    first = place(trader, gold_buck, "buy", quantity=100, price=2_500, client_order_id="bot-1")
    again = place(trader, gold_buck, "buy", quantity=100, price=2_500, client_order_id="bot-1")
    assert again.pk == first.pk
    assert account(trader, gold_buck.quote).held == 250
    with pytest.raises(IdempotencyConflict):
        place(trader, gold_buck, "buy", quantity=200, price=2_500, client_order_id="bot-1")


def test_an_insert_meeting_a_used_client_order_id_is_told_from_other_refusals(gold_buck, traders):
    """order_place and the batch turn this error, and only this one, into a refusal of the client order id."""
    from django.db import IntegrityError, transaction

    from exchange.db import run_statements
    from markets import store

    trader, _ = traders
    first = place(trader, gold_buck, "buy", quantity=100, price=2_500, client_order_id="bot-1")
    twin = Order.objects.get(pk=first.pk)
    twin.pk = None
    overdrawn = Order.objects.get(pk=first.pk)
    overdrawn.pk, overdrawn.client_order_id, overdrawn.reserved = None, "bot-2", -1
    for order, taken in ((twin, True), (overdrawn, False)):
        with pytest.raises(IntegrityError) as refused, transaction.atomic():
            run_statements([store.insert_statement(Order, [order])])
        assert store.client_order_id_taken(refused.value) is taken


def test_open_orders_per_market_are_bounded_inside_the_transaction(gold_buck, traders, monkeypatch):
    from exchange.errors import TooManyOpenOrders

    monkeypatch.setattr(markets, "MAX_OPEN_ORDERS_PER_MARKET", 3)
    trader, other = traders
    for price in (2_000, 2_010, 2_020):
        place(trader, gold_buck, "buy", quantity=100, price=price)
    before = market_state()
    with pytest.raises(TooManyOpenOrders):
        place(trader, gold_buck, "buy", quantity=100, price=2_030)
    assert market_state() == before
    place(other, gold_buck, "sell", quantity=100, price=2_000)  # takes one: the limit counts open orders only
    assert place(trader, gold_buck, "sell", quantity=100, price=3_000).status == "open"


def test_a_first_order_gets_accounts_in_both_currencies(gold_buck, traders):
    from tests.conftest import fund as give
    from tests.conftest import make_user

    newcomer = make_user("newcomer")
    give(newcomer, gold_buck.quote, 10_000)  # BUCK only: no GOLD account yet
    order = place(newcomer, gold_buck, "buy", quantity=100, price=2_500)
    assert order.status == "open"
    assert account(newcomer, gold_buck.base).balance == 0  # ready to receive GOLD
    place(traders[0], gold_buck, "sell", quantity=100, price=2_500)
    assert account(newcomer, gold_buck.base).balance == 100


def test_a_refused_first_order_leaves_no_empty_accounts(gold_buck):
    from tests.conftest import make_user

    stranger = make_user("stranger")
    before = market_state()
    with pytest.raises(InsufficientFunds):
        place(stranger, gold_buck, "sell", quantity=100, price=2_500)
    assert market_state() == before
