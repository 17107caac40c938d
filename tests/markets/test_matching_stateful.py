"""The engine against a naive reference book, over random streams of orders and cancels.

The machine keeps the engine's book the way the settlement service would (two priority-ordered lists updated
from each ``MatchResult``) and, next to it, a reference model written from the rules alone: one flat list of
orders, re-sorted for every lot, trading one lot at a time on scratch copies. After every step the two must
agree on the result and on the book, and the book must not be crossed.
"""

import dataclasses

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from markets.matching import (
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

SCALE, LOT, TICK = 100, 10, 10
RULES = Rules(base_scale=SCALE, lot=LOT, tick=TICK)
OWNERS = st.sampled_from([1, 2, 3])
SIDES = st.sampled_from([Side.BUY, Side.SELL])
PRICES = st.integers(min_value=5, max_value=12).map(lambda ticks: ticks * TICK)  # a narrow grid crosses often
QUANTITIES = st.integers(min_value=1, max_value=6).map(lambda lots: lots * LOT)
BUDGETS = st.integers(min_value=1, max_value=100)  # one lot costs 5 to 12
STPS = st.sampled_from(list(SelfTradePrevention))
TIME_IN_FORCES = st.sampled_from(list(TimeInForce))


# The reference model.


@dataclasses.dataclass
class RefOrder:
    order_id: int
    owner_id: int
    side: str
    price: int
    remaining: int
    arrival: int


class ReferenceBook:
    """Every open order in one unsorted list; the matching rules applied one lot at a time."""

    def __init__(self) -> None:
        self.orders: list[RefOrder] = []
        self.arrivals = 0

    def queue(self, side: str) -> list[RefOrder]:
        orders = [order for order in self.orders if order.side == side]
        if side == "buy":
            return sorted(orders, key=lambda order: (-order.price, order.arrival))
        return sorted(orders, key=lambda order: (order.price, order.arrival))

    def cancel(self, order_id: int) -> None:
        self.orders = [order for order in self.orders if order.order_id != order_id]

    def place(self, o: Incoming) -> tuple:
        """Match ``o``, update the book, and return (outcome, fills, cancelled, resting quantity, reason)."""
        buying = o.side == "buy"
        other = "sell" if buying else "buy"

        def crosses(price: int) -> bool:
            if o.price is None:
                return True
            return price <= o.price if buying else price >= o.price

        left = {order.order_id: order.remaining for order in self.orders}  # scratch copy
        removed: list[int] = []  # own orders cancelled by self-trade prevention

        def best() -> RefOrder | None:
            live = [x for x in self.queue(other) if left[x.order_id] > 0 and x.order_id not in removed]
            return live[0] if live else None

        if o.post_only:
            top = best()
            if top is not None and crosses(top.price):
                return (Outcome.REJECTED, (), (), 0, "post_only_would_take")
            self.add(o, o.quantity)
            return (Outcome.RESTING, (), (), o.quantity, None)

        wanted = o.quantity  # None: the budget alone limits it
        budget = o.quote_budget
        lots: list[list[int]] = []  # [maker id, maker owner, price, quantity], one entry per maker
        stop = None
        while wanted != 0:
            top = best()
            if top is None or not crosses(top.price):
                stop = "no_liquidity"
                break
            lot_cost = LOT * top.price // SCALE
            if budget is not None and budget < lot_cost:
                stop = "budget_exhausted"
                break
            if top.owner_id == o.owner_id:
                if o.stp in ("cancel_resting", "cancel_both"):
                    removed.append(top.order_id)
                if o.stp == "cancel_resting":
                    continue
                stop = "self_trade"
                break
            left[top.order_id] -= LOT
            if wanted is not None:
                wanted -= LOT
            if lots and lots[-1][0] == top.order_id:
                lots[-1][3] += LOT
            else:
                lots.append([top.order_id, top.owner_id, top.price, LOT])
            if budget is not None:
                budget -= lot_cost
                if wanted != 0 and budget < lot_cost:  # every later lot costs at least as much
                    stop = "budget_exhausted"
                    break

        market = o.price is None
        if stop is None:
            outcome = Outcome.FILLED
        elif o.time_in_force == "fok":
            return (Outcome.REJECTED, (), (), 0, "fok_not_fillable")
        elif stop == "budget_exhausted" and o.quantity is None and lots:
            outcome, stop = Outcome.FILLED, None
        elif stop == "no_liquidity" and not market and o.time_in_force == "gtc":
            outcome, stop = Outcome.RESTING, None
        else:
            outcome = Outcome.CANCELLED

        # Each maker's remaining is reported after its last fill; the scratch copy has exactly that.
        fills = tuple((m, w, p, q, q * p // SCALE, left[m]) for m, w, p, q in lots)
        for order in self.orders:
            order.remaining = left[order.order_id]
        self.orders = [x for x in self.orders if x.remaining > 0 and x.order_id not in removed]
        resting = 0
        if outcome == Outcome.RESTING:
            resting = wanted
            self.add(o, resting)
        return (outcome, fills, tuple(removed), resting, stop)

    def add(self, o: Incoming, quantity: int) -> None:
        self.arrivals += 1
        self.orders.append(RefOrder(o.order_id, o.owner_id, str(o.side), o.price, quantity, self.arrivals))

    def snapshot(self) -> tuple:
        return tuple(
            tuple((x.order_id, x.owner_id, x.price, x.remaining) for x in self.queue(side)) for side in ("buy", "sell")
        )


# The engine's book, kept as the settlement service keeps it.


def summary(result: MatchResult) -> tuple:
    fills = tuple(
        (f.maker_order_id, f.maker_owner_id, f.price, f.quantity, f.quote_amount, f.maker_remaining)
        for f in result.fills
    )
    return (result.outcome, fills, result.cancelled_resting, result.resting_quantity, result.reason)


class CountingCursor:
    def __init__(self, orders: list[Resting]) -> None:
        self.orders = orders
        self.pulled = 0

    def __iter__(self):
        for order in self.orders:
            self.pulled += 1
            yield order


class MatchingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.books: dict[Side, list[Resting]] = {Side.BUY: [], Side.SELL: []}
        self.reference = ReferenceBook()
        self.next_id = 0

    def submit(self, **fields) -> None:
        self.next_id += 1
        incoming = Incoming(order_id=self.next_id, **fields)
        other = Side.SELL if incoming.side == Side.BUY else Side.BUY
        cursor = CountingCursor(self.books[other])

        result = match(incoming, cursor, RULES)
        expected = self.reference.place(incoming)

        assert summary(result) == expected, incoming
        event(f"{result.outcome} {result.reason or ''}".strip())
        if incoming.quantity is None and result.outcome == Outcome.FILLED:
            event("budget-only market buy spent its budget")
        if result.cancelled_resting:
            event("self-trade cancelled resting orders")
        if result.outcome != Outcome.REJECTED:  # a rejected FOK drops what it read
            touched = len({f.maker_order_id for f in result.fills}) + len(result.cancelled_resting)
            assert cursor.pulled <= touched + 1, "read past the first order it did not need"
        assert result.filled_quantity <= (incoming.quantity or result.filled_quantity)
        if incoming.quote_budget is not None:
            assert result.quote_total <= incoming.quote_budget
        if incoming.price is not None:
            assert all(
                f.price <= incoming.price if incoming.side == Side.BUY else f.price >= incoming.price
                for f in result.fills
            )
        self.apply(incoming, result)

    def apply(self, incoming: Incoming, result: MatchResult) -> None:
        other = Side.SELL if incoming.side == Side.BUY else Side.BUY
        makers = self.books[other]
        for fill in result.fills:
            at = next(i for i, order in enumerate(makers) if order.order_id == fill.maker_order_id)
            if fill.maker_remaining:
                makers[at] = dataclasses.replace(makers[at], remaining=fill.maker_remaining)
            else:
                del makers[at]
        cancelled = set(result.cancelled_resting)
        makers[:] = [order for order in makers if order.order_id not in cancelled]
        if result.outcome == Outcome.RESTING:
            own = self.books[incoming.side]
            behind = (lambda p: p < incoming.price) if incoming.side == Side.BUY else (lambda p: p > incoming.price)
            at = next((i for i, order in enumerate(own) if behind(order.price)), len(own))
            own.insert(at, Resting(incoming.order_id, incoming.owner_id, incoming.side, incoming.price,
                                   result.resting_quantity))

    @rule(owner=OWNERS, side=SIDES, price=PRICES, quantity=QUANTITIES, stp=STPS,
          kind=st.sampled_from(["gtc", "ioc", "fok", "post_only"]))
    def limit_order(self, owner, side, price, quantity, stp, kind) -> None:
        post_only = kind == "post_only"
        time_in_force = TimeInForce.GTC if post_only else TimeInForce(kind)
        self.submit(owner_id=owner, side=side, price=price, quantity=quantity, time_in_force=time_in_force,
                    post_only=post_only, stp=stp)

    @rule(owner=OWNERS, side=SIDES, price=PRICES, lots=st.integers(min_value=1, max_value=12))
    def add_liquidity(self, owner, side, price, lots) -> None:
        """Place a plain GTC limit order, often a large one, so the takers below find depth."""
        self.submit(owner_id=owner, side=side, price=price, quantity=lots * LOT)

    @rule(owner=OWNERS, quantity=QUANTITIES, time_in_force=TIME_IN_FORCES, stp=STPS)
    def market_sell(self, owner, quantity, time_in_force, stp) -> None:
        self.submit(owner_id=owner, side=Side.SELL, price=None, quantity=quantity, time_in_force=time_in_force,
                    stp=stp)

    @rule(owner=OWNERS, quantity=st.none() | QUANTITIES, budget=BUDGETS, time_in_force=TIME_IN_FORCES, stp=STPS)
    def market_buy(self, owner, quantity, budget, time_in_force, stp) -> None:
        if quantity is None and time_in_force == TimeInForce.FOK:
            time_in_force = TimeInForce.IOC  # a fill-or-kill market buy needs a quantity
        self.submit(owner_id=owner, side=Side.BUY, price=None, quantity=quantity, quote_budget=budget,
                    time_in_force=time_in_force, stp=stp)

    @rule(data=st.data())
    def cancel(self, data) -> None:
        if not self.reference.orders:
            return
        order_id = data.draw(st.sampled_from(sorted(order.order_id for order in self.reference.orders)))
        self.reference.cancel(order_id)
        for side in self.books.values():
            side[:] = [order for order in side if order.order_id != order_id]

    @invariant()
    def books_agree(self) -> None:
        engine = tuple(
            tuple((x.order_id, x.owner_id, x.price, x.remaining) for x in self.books[side])
            for side in (Side.BUY, Side.SELL)
        )
        assert engine == self.reference.snapshot()

    @invariant()
    def book_is_well_formed(self) -> None:
        bids, asks = self.books[Side.BUY], self.books[Side.SELL]
        if bids and asks:
            assert bids[0].price < asks[0].price, "crossed book"
        for order in bids + asks:
            assert order.remaining > 0 and order.remaining % LOT == 0
            assert order.price > 0 and order.price % TICK == 0
        assert all(order.side == Side.BUY for order in bids) and all(order.side == Side.SELL for order in asks)


TestMatchingAgainstReference = MatchingMachine.TestCase
TestMatchingAgainstReference.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
