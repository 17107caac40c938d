"""The matching engine: one incoming order against the opposite side of one market's book.

``match`` is a pure function over a lazy iterator. The settlement service holds the market row lock, holds the
incoming order's funds, feeds ``match`` the opposite side's open orders straight from a database cursor in
priority order (asks by price ascending then time; bids by price descending then time), and writes the
``MatchResult`` back: trades, maker updates, cancellations, the resting remainder. The engine has no ORM, no
I/O and no view of balances, so it is tested without a database and cannot half-write anything. It pulls a
resting order only when it needs the next one and stops at the first order past the limit price, so a match
reads as many rows as it trades with, plus at most one. Everything is an integer of minor units: a quantity
is base minor units, a price is quote minor units per whole base unit, and a trade of ``q`` at ``p`` costs
``q * p // base_scale`` quote, which the market's lot and tick make exact.

Choices the contract leaves open:

* Self-trade prevention defaults to ``CANCEL_RESTING``. An own order only counts as "in the way" when the
  incoming order would otherwise trade with it (it crosses the limit and, for a budget, a lot is affordable).
* A fill-or-kill order is matched normally and, if it is not complete, the whole result is dropped: REJECTED
  ``"fok_not_fillable"`` with no fills and no ``cancelled_resting``. Own orders therefore provide no liquidity,
  and ``CANCEL_INCOMING``/``CANCEL_BOTH`` meeting an own order before completion rejects it.
* Market orders behave as IOC whatever their time in force says, except that FOK is honoured.
* A market buy spends at most ``quote_budget`` and, if ``quantity`` is given, buys at most that. At each
  resting order it buys as many whole lots as the remaining budget affords. Because later orders are never
  cheaper, the budget is spent as soon as it cannot buy one lot at the price just traded (or at the next
  order's price); the engine then stops without pulling further. The outcome is then:

  - ``quantity`` given and reached: FILLED (this wins when budget and quantity run out together);
  - ``quantity`` given and not reached: CANCELLED ``"budget_exhausted"``;
  - budget only (``quantity`` None) with at least one fill: FILLED, reason None; the unspent dust stays held
    by the caller to release;
  - budget only and not even one lot affordable at the best ask: CANCELLED ``"budget_exhausted"``;
  - the book runs out (or only own orders remain) while the budget could still buy: CANCELLED
    ``"no_liquidity"``.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class SelfTradePrevention(StrEnum):
    CANCEL_RESTING = "cancel_resting"  # the default: the own resting order is cancelled, matching continues
    CANCEL_INCOMING = "cancel_incoming"  # matching stops; the incoming remainder is cancelled (fills stand)
    CANCEL_BOTH = "cancel_both"  # the own resting order and the incoming remainder are both cancelled


class Outcome(StrEnum):
    RESTING = "resting"  # a limit GTC remainder rests on the book (possibly after partial fills)
    FILLED = "filled"  # quantity reached, or a budget-only market buy spent its budget
    CANCELLED = "cancelled"  # the remainder is cancelled; fills so far stand
    REJECTED = "rejected"  # nothing happened at all


POST_ONLY_WOULD_TAKE = "post_only_would_take"
FOK_NOT_FILLABLE = "fok_not_fillable"
SELF_TRADE = "self_trade"
NO_LIQUIDITY = "no_liquidity"
BUDGET_EXHAUSTED = "budget_exhausted"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Rules:
    base_scale: int  # 10 ** base currency decimals
    lot: int  # quantity step in base minor units
    tick: int  # price step in quote minor units per one whole base unit

    def __post_init__(self) -> None:
        for name in ("base_scale", "lot", "tick"):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if 10 ** (len(str(self.base_scale)) - 1) != self.base_scale:
            raise ValueError(f"base_scale must be a power of ten, got {self.base_scale}")
        if self.lot * self.tick % self.base_scale:
            raise ValueError("lot * tick must be divisible by base_scale, or trade costs would need rounding")

    def quote_amount(self, quantity: int, price: int) -> int:
        """Return the quote minor units that ``quantity`` base minor units cost at ``price``; never round."""
        amount, remainder = divmod(quantity * price, self.base_scale)
        if remainder:
            raise ValueError(f"{quantity} at {price} is not a whole number of quote minor units")
        return amount


@dataclass(frozen=True, slots=True)
class Resting:
    order_id: int
    owner_id: int
    side: Side
    price: int
    remaining: int


@dataclass(frozen=True, slots=True)
class Incoming:
    order_id: int
    owner_id: int
    side: Side
    price: int | None  # None: market order
    quantity: int | None  # base minor units; None only for a market buy that spends a quote budget
    quote_budget: int | None = None  # market buy only, and required there: the most quote it may spend
    time_in_force: TimeInForce = TimeInForce.GTC  # market orders act as IOC unless FOK
    post_only: bool = False
    stp: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING


@dataclass(frozen=True, slots=True)
class Fill:
    maker_order_id: int
    maker_owner_id: int
    price: int
    quantity: int
    quote_amount: int
    maker_remaining: int  # what the maker order has left after this fill (0: maker filled)


@dataclass(frozen=True, slots=True)
class MatchResult:
    outcome: Outcome
    fills: tuple[Fill, ...]
    cancelled_resting: tuple[int, ...]  # own resting orders cancelled by self-trade prevention
    resting_quantity: int  # base quantity that goes on the book (0 unless RESTING)
    reason: str | None  # machine code for REJECTED / CANCELLED, else None

    @property
    def filled_quantity(self) -> int:
        return sum(fill.quantity for fill in self.fills)

    @property
    def quote_total(self) -> int:
        return sum(fill.quote_amount for fill in self.fills)


def _check(incoming: Incoming, rules: Rules) -> tuple[Side, TimeInForce, SelfTradePrevention]:
    """Return the incoming order's enums; raise ValueError if the order is not one the engine accepts."""
    side = Side(incoming.side)
    time_in_force = TimeInForce(incoming.time_in_force)
    stp = SelfTradePrevention(incoming.stp)
    price, quantity, budget = incoming.price, incoming.quantity, incoming.quote_budget
    market = price is None
    if not market and (not _is_int(price) or price <= 0 or price % rules.tick):
        raise ValueError(f"price must be a positive multiple of the tick {rules.tick}, got {price!r}")
    if quantity is not None and (not _is_int(quantity) or quantity <= 0 or quantity % rules.lot):
        raise ValueError(f"quantity must be a positive multiple of the lot {rules.lot}, got {quantity!r}")
    if market and side == Side.BUY:
        if budget is None:
            raise ValueError("a market buy needs a quote_budget")
        if not _is_int(budget) or budget <= 0:
            raise ValueError(f"quote_budget must be a positive integer, got {budget!r}")
        if quantity is None and time_in_force == TimeInForce.FOK:
            raise ValueError("a fill-or-kill market buy needs a quantity")
    else:
        if budget is not None:
            raise ValueError("quote_budget is only for market buys")
        if quantity is None:
            raise ValueError("quantity is required")
    if incoming.post_only and (market or time_in_force != TimeInForce.GTC):
        raise ValueError("post_only is only for good-till-cancelled limit orders")
    return side, time_in_force, stp


def match(incoming: Incoming, opposite: Iterable[Resting], rules: Rules) -> MatchResult:
    """Match ``incoming`` against ``opposite`` (the other side's open orders, best first) and return the result.

    Pull from ``opposite`` lazily: never past the first order that does not cross, nor after the incoming
    order is done. Raise ValueError if ``incoming`` is invalid for ``rules``.
    """
    side, time_in_force, stp = _check(incoming, rules)
    buying = side == Side.BUY
    limit = incoming.price

    if incoming.post_only:
        for best in opposite:
            if best.price <= limit if buying else best.price >= limit:
                return MatchResult(Outcome.REJECTED, (), (), 0, POST_ONLY_WOULD_TAKE)
            break
        return MatchResult(Outcome.RESTING, (), (), incoming.quantity, None)

    owner = incoming.owner_id
    remaining = incoming.quantity  # None: limited by the budget alone
    budget = incoming.quote_budget  # None unless a market buy
    lot = rules.lot
    scale = rules.base_scale
    fills: list[Fill] = []
    cancelled: list[int] = []
    stopped = NO_LIQUIDITY  # why matching ended; None once the quantity is reached

    for maker in opposite:
        price = maker.price
        if limit is not None and (price > limit if buying else price < limit):
            break
        if budget is not None:
            lot_cost = lot * price // scale
            if budget < lot_cost:
                stopped = BUDGET_EXHAUSTED
                break
        if maker.owner_id == owner:
            if stp != SelfTradePrevention.CANCEL_INCOMING:
                cancelled.append(maker.order_id)
            if stp == SelfTradePrevention.CANCEL_RESTING:
                continue
            stopped = SELF_TRADE
            break

        available = maker.remaining
        quantity = available
        if remaining is not None and remaining < quantity:
            quantity = remaining
        if budget is not None:
            affordable = budget // lot_cost * lot
            if affordable < quantity:
                quantity = affordable
        quote, inexact = divmod(quantity * price, scale)
        if inexact:
            raise ValueError(f"order {maker.order_id} is off tick or off lot: {quantity} at {price} is inexact")
        fills.append(Fill(maker.order_id, maker.owner_id, price, quantity, quote, available - quantity))

        if remaining is not None:
            remaining -= quantity
            if remaining == 0:
                stopped = None
                break
        if budget is not None:
            budget -= quote
            if budget < lot_cost:  # later orders cost at least as much per lot
                stopped = BUDGET_EXHAUSTED
                break

    if stopped is None:
        return MatchResult(Outcome.FILLED, tuple(fills), tuple(cancelled), 0, None)
    if time_in_force == TimeInForce.FOK:
        return MatchResult(Outcome.REJECTED, (), (), 0, FOK_NOT_FILLABLE)
    if stopped == BUDGET_EXHAUSTED and remaining is None and fills:
        return MatchResult(Outcome.FILLED, tuple(fills), tuple(cancelled), 0, None)
    if stopped == NO_LIQUIDITY and limit is not None and time_in_force == TimeInForce.GTC:
        return MatchResult(Outcome.RESTING, tuple(fills), tuple(cancelled), remaining, None)
    return MatchResult(Outcome.CANCELLED, tuple(fills), tuple(cancelled), 0, stopped)
