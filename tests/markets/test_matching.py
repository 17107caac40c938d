"""Table-driven tests of the pure matching engine; no database.

Rules: base_scale 100 (two base decimals), lot 10 (0.10 base), tick 10 (0.10 quote per base unit), so a fill
of q at p costs q * p / 100 quote minor units: 30 at 120 costs 36, and one lot at p costs p / 10.
"""

from collections.abc import Iterator
from decimal import Decimal

import pytest

from markets.matching import (
    Fill,
    Incoming,
    MatchResult,
    Outcome,
    Resting,
    Rules,
    SelfTradePrevention,
    Side,
    TimeInForce,
    match,
)

RULES = Rules(base_scale=100, lot=10, tick=10)
ALICE, BOB, CAROL = 1, 2, 3  # ALICE places every incoming order
TAKER_ID = 100

GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING
CANCEL_INCOMING = SelfTradePrevention.CANCEL_INCOMING
CANCEL_BOTH = SelfTradePrevention.CANCEL_BOTH
RESTING, FILLED, CANCELLED, REJECTED = Outcome.RESTING, Outcome.FILLED, Outcome.CANCELLED, Outcome.REJECTED


def ask(order_id: int, price: int, remaining: int, owner: int = BOB) -> Resting:
    return Resting(order_id=order_id, owner_id=owner, side=Side.SELL, price=price, remaining=remaining)


def bid(order_id: int, price: int, remaining: int, owner: int = BOB) -> Resting:
    return Resting(order_id=order_id, owner_id=owner, side=Side.BUY, price=price, remaining=remaining)


def buy(quantity: int | None, price: int | None, **kwargs) -> Incoming:
    return Incoming(order_id=TAKER_ID, owner_id=ALICE, side=Side.BUY, price=price, quantity=quantity, **kwargs)


def sell(quantity: int | None, price: int | None, **kwargs) -> Incoming:
    return Incoming(order_id=TAKER_ID, owner_id=ALICE, side=Side.SELL, price=price, quantity=quantity, **kwargs)


def market_buy(budget: int | None, quantity: int | None = None, **kwargs) -> Incoming:
    return buy(quantity, None, quote_budget=budget, **kwargs)


def market_sell(quantity: int | None, **kwargs) -> Incoming:
    return sell(quantity, None, **kwargs)


def fill(maker: Resting, quantity: int) -> tuple:
    """The expected fill of ``quantity`` against ``maker``, as a comparable tuple."""
    quote = quantity * maker.price // RULES.base_scale
    return (maker.order_id, maker.owner_id, maker.price, quantity, quote, maker.remaining - quantity)


def summary(result: MatchResult) -> tuple:
    fills = tuple(
        (f.maker_order_id, f.maker_owner_id, f.price, f.quantity, f.quote_amount, f.maker_remaining)
        for f in result.fills
    )
    return (result.outcome, fills, result.cancelled_resting, result.resting_quantity, result.reason)


def case(case_id: str, incoming: Incoming, book: list[Resting], outcome: Outcome, fills=(), cancelled=(),
         resting=0, reason=None):
    expected = (outcome, tuple(fills), tuple(cancelled), resting, reason)
    return pytest.param(incoming, book, expected, id=case_id)


A100, A110, A120, A130 = ask(1, 100, 30), ask(2, 110, 30), ask(3, 120, 30), ask(4, 130, 30)
LADDER = [A100, A110, A120, A130]
B120, B110, B100 = bid(1, 120, 30), bid(2, 110, 30), bid(3, 100, 30)
BID_LADDER = [B120, B110, B100]
SAME_PRICE = [ask(1, 100, 20), ask(2, 100, 20, owner=CAROL), ask(3, 100, 20)]
OWN_FIRST = [ask(1, 100, 20, owner=ALICE), ask(2, 100, 20), ask(3, 100, 20)]
OWN_MIDDLE = [ask(1, 100, 20), ask(2, 100, 20, owner=ALICE), ask(3, 100, 20)]
# For market buys: one lot costs 10 at 100, 20 at 200, 30 at 300.
PRICEY = [ask(1, 100, 30), ask(2, 200, 30), ask(3, 300, 100)]

CASES = [
    # The empty book.
    case("empty-book/limit-rests", buy(50, 100), [], RESTING, resting=50),
    case("empty-book/limit-sell-rests", sell(50, 100), [], RESTING, resting=50),
    case("empty-book/ioc-cancelled", buy(50, 100, time_in_force=IOC), [], CANCELLED, reason="no_liquidity"),
    case("empty-book/fok-rejected", buy(50, 100, time_in_force=FOK), [], REJECTED, reason="fok_not_fillable"),
    case("empty-book/market-sell-cancelled", market_sell(50), [], CANCELLED, reason="no_liquidity"),
    case("empty-book/market-buy-cancelled", market_buy(1000), [], CANCELLED, reason="no_liquidity"),
    case("empty-book/market-fok-rejected", market_sell(50, time_in_force=FOK), [], REJECTED,
         reason="fok_not_fillable"),
    case("empty-book/post-only-rests", buy(50, 100, post_only=True), [], RESTING, resting=50),
    # Limit orders.
    case("limit/exact-fill", buy(30, 100), [A100], FILLED, [fill(A100, 30)]),
    case("limit/partial-fill-of-maker", buy(20, 100), [A100], FILLED, [fill(A100, 20)]),
    case("limit/taker-remainder-rests", buy(50, 100), [A100], RESTING, [fill(A100, 30)], resting=20),
    case("limit/walks-levels", buy(100, 130), LADDER, FILLED,
         [fill(A100, 30), fill(A110, 30), fill(A120, 30), fill(A130, 10)]),
    case("limit/walks-levels-then-rests", buy(100, 120), LADDER, RESTING,
         [fill(A100, 30), fill(A110, 30), fill(A120, 30)], resting=10),
    case("limit/buy-above-best-pays-ask", buy(20, 150), [A100], FILLED, [fill(A100, 20)]),
    case("limit/sell-below-best-gets-bid", sell(20, 50), [B120], FILLED, [fill(B120, 20)]),
    case("limit/equal-prices-in-time-order", buy(30, 100), SAME_PRICE, FILLED,
         [fill(SAME_PRICE[0], 20), fill(SAME_PRICE[1], 10)]),
    case("limit/buy-stops-at-its-price", buy(100, 110), LADDER, RESTING, [fill(A100, 30), fill(A110, 30)],
         resting=40),
    case("limit/sell-stops-at-its-price", sell(100, 110), BID_LADDER, RESTING,
         [fill(B120, 30), fill(B110, 30)], resting=40),
    case("limit/does-not-cross", buy(30, 90), LADDER, RESTING, resting=30),
    case("limit/sell-walks-bids", sell(40, 100), [bid(1, 120, 20, owner=CAROL), bid(2, 110, 30)],
         FILLED, [fill(bid(1, 120, 20, owner=CAROL), 20), fill(bid(2, 110, 30), 20)]),
    # Immediate-or-cancel.
    case("ioc/remainder-cancelled", buy(100, 110, time_in_force=IOC), LADDER, CANCELLED,
         [fill(A100, 30), fill(A110, 30)], reason="no_liquidity"),
    case("ioc/complete-is-filled", buy(40, 110, time_in_force=IOC), LADDER, FILLED,
         [fill(A100, 30), fill(A110, 10)]),
    case("ioc/nothing-crosses", sell(30, 130, time_in_force=IOC), BID_LADDER, CANCELLED, reason="no_liquidity"),
    # Fill-or-kill.
    case("fok/cannot-fill-returns-nothing", buy(70, 110, time_in_force=FOK), LADDER, REJECTED,
         reason="fok_not_fillable"),
    case("fok/fills-exactly", buy(60, 110, time_in_force=FOK), LADDER, FILLED,
         [fill(A100, 30), fill(A110, 30)]),
    case("fok/sell-fills", sell(40, 110, time_in_force=FOK), BID_LADDER, FILLED,
         [fill(B120, 30), fill(B110, 10)]),
    case("fok/market-sell-cannot-fill", market_sell(100, time_in_force=FOK), BID_LADDER, REJECTED,
         reason="fok_not_fillable"),
    case("fok/market-sell-fills", market_sell(90, time_in_force=FOK), BID_LADDER, FILLED,
         [fill(B120, 30), fill(B110, 30), fill(B100, 30)]),
    case("fok/market-buy-budget-too-small", market_buy(49, 40, time_in_force=FOK), PRICEY, REJECTED,
         reason="fok_not_fillable"),
    case("fok/market-buy-fills", market_buy(50, 40, time_in_force=FOK), PRICEY, FILLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 10)]),
    # Post-only.
    case("post-only/would-cross-rejected", buy(10, 100, post_only=True), LADDER, REJECTED,
         reason="post_only_would_take"),
    case("post-only/sell-would-cross-rejected", sell(10, 120, post_only=True), BID_LADDER, REJECTED,
         reason="post_only_would_take"),
    case("post-only/own-order-would-cross-rejected", buy(10, 100, post_only=True), OWN_FIRST, REJECTED,
         reason="post_only_would_take"),
    case("post-only/below-best-rests", buy(10, 90, post_only=True), LADDER, RESTING, resting=10),
    case("post-only/sell-above-best-rests", sell(10, 130, post_only=True), BID_LADDER, RESTING, resting=10),
    # Market sell (market orders behave as IOC, whatever their time in force says).
    case("market-sell/walks-bids", market_sell(70), BID_LADDER, FILLED,
         [fill(B120, 30), fill(B110, 30), fill(B100, 10)]),
    case("market-sell/runs-out", market_sell(100), BID_LADDER, CANCELLED,
         [fill(B120, 30), fill(B110, 30), fill(B100, 30)], reason="no_liquidity"),
    case("market-sell/gtc-acts-as-ioc", market_sell(100, time_in_force=GTC), [B120], CANCELLED,
         [fill(B120, 30)], reason="no_liquidity"),
    # Market buy by budget. 100: 30 at 100 (30) + 30 at 200 (60); the 10 left cannot buy a lot at 200.
    case("market-buy/budget-walks-levels-dust-unspent", market_buy(100), PRICEY, FILLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 30)]),
    # 125: 30 + 60 + one lot at 300 (30); the 5 left is dust.
    case("market-buy/budget-partly-takes-a-maker", market_buy(125), PRICEY, FILLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 30), fill(PRICEY[2], 10)]),
    case("market-buy/budget-spent-exactly", market_buy(90), PRICEY, FILLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 30)]),
    case("market-buy/budget-below-one-lot", market_buy(9), PRICEY, CANCELLED, reason="budget_exhausted"),
    case("market-buy/budget-outlasts-book", market_buy(1000), PRICEY, CANCELLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 30), fill(PRICEY[2], 100)], reason="no_liquidity"),
    case("market-buy/quantity-limits", market_buy(1000, 40), PRICEY, FILLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 10)]),
    case("market-buy/budget-limits-before-quantity", market_buy(50, 60), PRICEY, CANCELLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 10)], reason="budget_exhausted"),
    case("market-buy/budget-and-quantity-reached-together", market_buy(50, 40), PRICEY, FILLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 10)]),
    case("market-buy/quantity-outlasts-book", market_buy(10_000, 500), PRICEY, CANCELLED,
         [fill(PRICEY[0], 30), fill(PRICEY[1], 30), fill(PRICEY[2], 100)], reason="no_liquidity"),
    # Self-trade prevention; the default is CANCEL_RESTING.
    case("stp/default-cancels-resting", buy(30, 100), OWN_FIRST, FILLED,
         [fill(OWN_FIRST[1], 20), fill(OWN_FIRST[2], 10)], cancelled=[1]),
    case("stp/cancel-resting-then-rests", buy(60, 100), OWN_MIDDLE, RESTING,
         [fill(OWN_MIDDLE[0], 20), fill(OWN_MIDDLE[2], 20)], cancelled=[2], resting=20),
    case("stp/cancel-resting-only-own-left", buy(60, 100, time_in_force=IOC), [ask(1, 100, 20, owner=ALICE)],
         CANCELLED, cancelled=[1], reason="no_liquidity"),
    case("stp/explicit-cancel-resting-sell", sell(30, 100, stp=CANCEL_RESTING), [bid(5, 110, 20, owner=ALICE), B100],
         FILLED, [fill(B100, 30)], cancelled=[5]),
    case("stp/cancel-incoming", buy(60, 100, stp=CANCEL_INCOMING), OWN_MIDDLE, CANCELLED,
         [fill(OWN_MIDDLE[0], 20)], reason="self_trade"),
    case("stp/cancel-both", buy(60, 100, stp=CANCEL_BOTH), OWN_MIDDLE, CANCELLED,
         [fill(OWN_MIDDLE[0], 20)], cancelled=[2], reason="self_trade"),
    case("stp/cancel-both-sell", sell(60, 100, stp=CANCEL_BOTH), [bid(7, 100, 20, owner=ALICE)], CANCELLED,
         cancelled=[7], reason="self_trade"),
    case("stp/own-order-past-limit-untouched", buy(30, 100, stp=CANCEL_BOTH),
         [ask(1, 100, 20), ask(2, 110, 20, owner=ALICE)], RESTING, [fill(ask(1, 100, 20), 20)], resting=10),
    case("stp/own-order-after-fill-untouched", buy(20, 100), [ask(1, 100, 20), ask(2, 100, 20, owner=ALICE)],
         FILLED, [fill(ask(1, 100, 20), 20)]),
    case("stp/market-sell-cancel-resting", market_sell(30), [bid(1, 120, 20, owner=ALICE), B110], FILLED,
         [fill(B110, 30)], cancelled=[1]),
    case("stp/market-buy-unaffordable-own-order-untouched", market_buy(9), [ask(1, 100, 30, owner=ALICE)],
         CANCELLED, reason="budget_exhausted"),
    # Fill-or-kill with own orders in the way: they provide no liquidity.
    case("fok/own-orders-not-liquidity", buy(50, 100, time_in_force=FOK), OWN_MIDDLE, REJECTED,
         reason="fok_not_fillable"),
    case("fok/enough-besides-own-orders", buy(40, 100, time_in_force=FOK), OWN_MIDDLE, FILLED,
         [fill(OWN_MIDDLE[0], 20), fill(OWN_MIDDLE[2], 20)], cancelled=[2]),
    case("fok/cancel-incoming-rejects", buy(40, 100, time_in_force=FOK, stp=CANCEL_INCOMING), OWN_MIDDLE,
         REJECTED, reason="fok_not_fillable"),
    case("fok/cancel-both-rejects", buy(40, 100, time_in_force=FOK, stp=CANCEL_BOTH), OWN_MIDDLE, REJECTED,
         reason="fok_not_fillable"),
]


@pytest.mark.parametrize(("incoming", "book", "expected"), CASES)
def test_match(incoming: Incoming, book: list[Resting], expected: tuple) -> None:
    result = match(incoming, iter(book), RULES)

    assert summary(result) == expected
    assert all(isinstance(f, Fill) for f in result.fills)


def test_result_totals() -> None:
    result = match(buy(100, 130), iter(LADDER), RULES)

    assert result.filled_quantity == 100
    assert result.quote_total == 30 + 33 + 36 + 13


INVALID = [
    pytest.param(buy(0, 100), id="zero-quantity"),
    pytest.param(buy(-10, 100), id="negative-quantity"),
    pytest.param(buy(15, 100), id="off-lot-quantity"),
    pytest.param(buy(10.0, 100), id="float-quantity"),
    pytest.param(buy(Decimal(10), 100), id="decimal-quantity"),
    pytest.param(buy(True, 100), id="bool-quantity"),
    pytest.param(buy(None, 100), id="limit-without-quantity"),
    pytest.param(buy(10, 0), id="zero-price"),
    pytest.param(sell(10, -10), id="negative-price"),
    pytest.param(buy(10, 105), id="off-tick-price"),
    pytest.param(buy(10, 100.0), id="float-price"),
    pytest.param(market_sell(None), id="market-sell-without-quantity"),
    pytest.param(market_buy(None, 10), id="market-buy-without-budget"),
    pytest.param(market_buy(0), id="zero-budget"),
    pytest.param(market_buy(-5), id="negative-budget"),
    pytest.param(market_buy(10.5), id="float-budget"),
    pytest.param(sell(10, None, quote_budget=100), id="budget-on-market-sell"),
    pytest.param(buy(10, 100, quote_budget=100), id="budget-on-limit-buy"),
    pytest.param(market_buy(100, post_only=True), id="post-only-market"),
    pytest.param(buy(10, 100, post_only=True, time_in_force=IOC), id="post-only-ioc"),
    pytest.param(buy(10, 100, post_only=True, time_in_force=FOK), id="post-only-fok"),
    pytest.param(market_buy(100, time_in_force=FOK), id="fok-market-buy-without-quantity"),
    pytest.param(Incoming(TAKER_ID, ALICE, "hold", 100, 10), id="unknown-side"),
    pytest.param(buy(10, 100, time_in_force="day"), id="unknown-time-in-force"),
    pytest.param(buy(10, 100, stp="cancel_oldest"), id="unknown-stp"),
]


@pytest.mark.parametrize("incoming", INVALID)
def test_invalid_incoming_raises(incoming: Incoming) -> None:
    def untouchable() -> Iterator[Resting]:
        raise AssertionError("the book must not be read for an invalid order")
        yield  # pragma: no cover

    with pytest.raises(ValueError):
        match(incoming, untouchable(), RULES)


def test_plain_strings_are_accepted_for_enums() -> None:
    incoming = Incoming(TAKER_ID, ALICE, "buy", 100, 10, time_in_force="ioc", stp="cancel_both")

    result = match(incoming, iter([A100]), RULES)

    assert result.outcome is FILLED


@pytest.mark.parametrize(
    ("base_scale", "lot", "tick"),
    [
        pytest.param(100, 10, 5, id="lot-times-tick-not-divisible"),
        pytest.param(2, 1, 1, id="scale-not-power-of-ten"),
        pytest.param(100, 0, 100, id="zero-lot"),
        pytest.param(100, 10, -10, id="negative-tick"),
        pytest.param(100.0, 10, 10, id="float-scale"),
    ],
)
def test_invalid_rules_raise(base_scale, lot, tick) -> None:
    with pytest.raises(ValueError):
        Rules(base_scale=base_scale, lot=lot, tick=tick)


# Laziness: the book may be a database cursor; pull nothing past what the match needs.


def guarded(orders: list[Resting], allowed: int) -> Iterator[Resting]:
    """Yield the first ``allowed`` orders, then fail the test if pulled again."""
    yield from orders[:allowed]
    raise AssertionError(f"pulled past the first {allowed} orders")


LAZY = [
    pytest.param(buy(100, 110), LADDER, 3, id="limit-stops-at-first-non-crossing"),
    pytest.param(sell(100, 110), BID_LADDER, 3, id="sell-stops-at-first-non-crossing"),
    pytest.param(buy(60, 130), LADDER, 2, id="done-when-quantity-reached"),
    pytest.param(buy(50, 130), LADDER, 2, id="done-inside-a-maker"),
    pytest.param(buy(10, 90, post_only=True), LADDER, 1, id="post-only-reads-the-best-only"),
    pytest.param(buy(10, 130, post_only=True), LADDER, 1, id="post-only-rejected-reads-the-best-only"),
    pytest.param(market_buy(90), PRICEY, 2, id="budget-spent-exactly"),
    pytest.param(market_buy(100), PRICEY, 2, id="budget-below-a-lot-at-last-price"),
    pytest.param(market_buy(95), PRICEY, 2, id="budget-partly-takes-a-maker"),
    pytest.param(buy(60, 100, stp=CANCEL_INCOMING), OWN_MIDDLE, 2, id="stp-stops"),
    pytest.param(buy(70, 110, time_in_force=FOK), LADDER, 3, id="fok-stops-at-first-non-crossing"),
]


@pytest.mark.parametrize(("incoming", "book", "allowed"), LAZY)
def test_reads_the_book_lazily(incoming: Incoming, book: list[Resting], allowed: int) -> None:
    expected = match(incoming, iter(book), RULES)

    assert match(incoming, guarded(book, allowed), RULES) == expected


def test_long_book_is_read_only_as_far_as_needed() -> None:
    pulled = 0

    def cursor() -> Iterator[Resting]:
        nonlocal pulled
        for order_id in range(1, 1_000_001):
            pulled += 1
            yield ask(order_id, 100 + 10 * order_id, 10)

    result = match(buy(30, 10_000_000), cursor(), RULES)

    assert result.filled_quantity == 30
    assert pulled == 3


# Quote amounts are exact or refused.


@pytest.mark.parametrize(
    ("rules", "quantity", "price", "expected"),
    [
        pytest.param(RULES, 30, 120, 36, id="small"),
        pytest.param(RULES, 10, 10, 1, id="one-lot-one-tick"),
        pytest.param(Rules(base_scale=10**8, lot=10**6, tick=100), 3 * 10**6, 1_234_500, 37_035, id="8-decimals"),
        pytest.param(Rules(base_scale=1, lot=1, tick=1), 7, 13, 91, id="0-decimals"),
        pytest.param(Rules(base_scale=10**8, lot=1, tick=10**8), 2**62, 10**8, 2**62, id="large"),
    ],
)
def test_quote_amount(rules: Rules, quantity: int, price: int, expected: int) -> None:
    assert rules.quote_amount(quantity, price) == expected


@pytest.mark.parametrize(("quantity", "price"), [(1, 10), (10, 1), (15, 30)], ids=["off-lot", "off-tick", "both"])
def test_quote_amount_refuses_to_round(quantity: int, price: int) -> None:
    with pytest.raises(ValueError):
        RULES.quote_amount(quantity, price)


def test_off_lot_resting_order_is_refused_not_rounded() -> None:
    with pytest.raises(ValueError):
        match(buy(10, 100), iter([ask(1, 10, 5)]), RULES)
