"""Market use cases: open a market, place and cancel orders, halt and resume.

Placing an order is one transaction: lock the market row and read the book's first batch; match against the book
(markets/matching.py, pure); lock every account the result touches, in key order (ledger/locks.py); check and hold
what the order may spend; write the order, the trades with one journal entry each, the holds released, the makers,
the book levels and the book sequence in one round trip (the SQL is in markets/store.py); commit. A resting order's
accounts are locked in the market lock's round trip (nothing crossed, so no one else's are needed); an order that
trades locks them, with its makers', in a round trip of their own. What subscribers hear is sent only after the
commit (markets/events.py).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exchange.db import new_instance, run_statements, update_rows_statements
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
    TooManyOpenOrders,
    ValidationFailed,
)
from ledger import locks
from ledger import services as ledger
from ledger.models import Account, Currency, JournalEntry, Posting
from ledger.money import MAX_MINOR_UNITS
from markets import events, matching, store
from markets.book import RestingRow, opposite_orders
from markets.models import Market, Order, Trade

MAX_FEE_BPS = 1000
# Bounds the book one user can build, checked in the placing transaction (a throttle alone could be raced).
MAX_OPEN_ORDERS_PER_MARKET = 200
CLIENT_ORDER_ID_MAX_LENGTH = 64
# The choices' values, once (tuples: `in` must not fail on an unhashable input): `Choices.values` builds a new
# list on every read, and every order reads four.
SIDES, TYPES = tuple(Order.Side.values), tuple(Order.Type.values)
TIMES_IN_FORCE, SELF_TRADE_RULES = tuple(Order.TimeInForce.values), tuple(Order.SelfTrade.values)


# --- markets ----------------------------------------------------------------------------------------------------


def default_steps(base_decimals: int) -> tuple[int, int]:
    """A lot and tick that keep every trade exact: lot × tick = 10^base_decimals."""
    lot = 10 ** ((base_decimals + 1) // 2)
    tick = 10 ** (base_decimals // 2)
    return lot, tick


@transaction.atomic(durable=True)
def market_create(
    *,
    user: User,
    base: Currency,
    quote: Currency,
    tick: int | None = None,
    lot: int | None = None,
    min_quantity: int | None = None,
    maker_fee_bps: int = 0,
    taker_fee_bps: int = 0,
) -> Market:
    """Open a market for an ordered pair that has none yet. Any signed-in user may."""
    default_lot, default_tick = default_steps(base.decimals)
    lot = default_lot if lot is None else lot
    tick = default_tick if tick is None else tick
    min_quantity = lot if min_quantity is None else min_quantity
    errors: dict[str, list[str]] = {}
    if base.pk == quote.pk:
        errors["quote"] = ["A market needs two different currencies."]
    for name, value in (("tick", tick), ("lot", lot), ("min_quantity", min_quantity)):
        if not _is_int(value) or not 0 < value <= MAX_MINOR_UNITS:
            errors[name] = ["Must be a positive amount."]
    for name, value in (("maker_fee_bps", maker_fee_bps), ("taker_fee_bps", taker_fee_bps)):
        if not _is_int(value) or not 0 <= value <= MAX_FEE_BPS:
            errors[name] = [f"Fees are whole basis points from 0 to {MAX_FEE_BPS}."]
    if not errors:
        if (lot * tick) % 10**base.decimals:
            errors["tick"] = [
                f"lot × tick must be a multiple of {10**base.decimals} so every trade moves whole minor units."
            ]
        if min_quantity % lot or min_quantity < lot:
            errors["min_quantity"] = ["The minimum must be a whole number of lots."]
    if errors:
        raise ValidationFailed(fields=errors)
    symbol = f"{base.code}-{quote.code}"
    try:
        with transaction.atomic():
            market = Market.objects.create(
                symbol=symbol,
                base=base,
                quote=quote,
                tick=tick,
                lot=lot,
                min_quantity=min_quantity,
                maker_fee_bps=maker_fee_bps,
                taker_fee_bps=taker_fee_bps,
                created_by=user,
            )
    except IntegrityError:
        raise Conflict(f"The market {symbol} exists already.", fields={"base": ["This pair has a market."]}) from None
    for currency in (base, quote):
        ledger.system_account(currency_id=currency.pk, kind=Account.Kind.FEE)
    return market


@transaction.atomic(durable=True)
def market_set_status(*, user: User, market: Market, halted: bool, reason: str = "") -> Market:
    """Halt or resume trading (staff only). Open orders stay; nothing matches while halted."""
    if not user.is_staff:
        raise PermissionDenied("Only staff can halt or resume a market.")
    market = market_halt_locked(market_id=market.pk, halted=halted, reason=reason)
    ledger.activity_record(
        actor=user,
        action="market_halt" if halted else "market_resume",
        subject=f"market:{market.symbol}",
        reason=reason,
    )
    return market


def market_halt_locked(*, market_id: int, halted: bool, reason: str) -> Market:
    """Set a market's status under its lock. Call inside a transaction (the audit uses it too)."""
    market = Market.objects.select_for_update().get(pk=market_id)
    market.status = Market.Status.HALTED if halted else Market.Status.OPEN
    market.halt_reason = reason[:200] if halted else ""
    market.save(update_fields=["status", "halt_reason"])
    return market


# --- orders -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRequest:
    """A validated order, in minor units."""

    side: str
    type: str
    quantity: int | None = None
    price: int | None = None
    quote_budget: int | None = None
    time_in_force: str = Order.TimeInForce.GTC
    post_only: bool = False
    self_trade: str = Order.SelfTrade.CANCEL_RESTING
    client_order_id: str | None = None
    # The symbol the request named, checked under the market's lock. The API names it: it finds the market key from
    # a copy that may be out of date (selectors.market_for_order).
    market: str | None = None


def order_check(*, market: Market, request: OrderRequest) -> int:
    """Check an order against the market's filters; return what it must hold (quote for buys, base for sells)."""
    if request.market is not None and request.market != market.symbol:
        raise NotFound(f"There is no market {request.market[:25]}.", fields={"market": ["No such market."]})
    if not market.is_open:
        raise MarketHalted(f"Trading on {market.symbol} is halted. {market.halt_reason}".strip())
    r = request
    if r.side not in SIDES:
        raise ValidationFailed(fields={"side": ["Use buy or sell."]})
    if r.type not in TYPES:
        raise ValidationFailed(fields={"type": ["Use limit or market."]})
    if r.time_in_force not in TIMES_IN_FORCE:
        raise ValidationFailed(fields={"time_in_force": ["Use gtc, ioc or fok."]})
    if r.self_trade not in SELF_TRADE_RULES:
        raise ValidationFailed(fields={"self_trade": [f"Use one of {', '.join(Order.SelfTrade.values)}."]})
    if r.client_order_id is not None and not 0 < len(r.client_order_id) <= CLIENT_ORDER_ID_MAX_LENGTH:
        raise ValidationFailed(fields={"client_order_id": ["Use 1 to 64 characters."]})
    if r.post_only and (r.type != Order.Type.LIMIT or r.time_in_force != Order.TimeInForce.GTC):
        raise ValidationFailed(fields={"post_only": ["Post-only goes with good-till-cancelled limit orders."]})
    if r.quantity is not None:
        _check_quantity(market, r.quantity)
    if r.type == Order.Type.LIMIT:
        if r.quantity is None:
            raise InvalidQuantity("A limit order needs a quantity.", fields={"quantity": ["Required."]})
        if r.quote_budget is not None:
            raise ValidationFailed(fields={"quote_budget": ["Only market buys take a budget."]})
        _check_price(market, r.price)
        reserve = r.quantity * r.price // 10**market.base.decimals if r.side == Order.Side.BUY else r.quantity
    else:
        if r.price is not None:
            raise InvalidPrice("A market order takes no price.", fields={"price": ["Leave it out for market orders."]})
        if r.side == Order.Side.SELL:
            if r.quantity is None:
                raise InvalidQuantity("A market sell needs a quantity.", fields={"quantity": ["Required."]})
            if r.quote_budget is not None:
                raise ValidationFailed(fields={"quote_budget": ["Only market buys take a budget."]})
            reserve = r.quantity
        else:
            if not _is_int(r.quote_budget) or not 0 < r.quote_budget <= MAX_MINOR_UNITS:
                raise ValidationFailed(
                    "A market buy needs a quote budget: the most it may spend.",
                    fields={"quote_budget": ["Required: the most this order may spend."]},
                )
            if r.time_in_force == Order.TimeInForce.FOK and r.quantity is None:
                raise InvalidQuantity("Fill-or-kill needs a quantity.", fields={"quantity": ["Required with fok."]})
            reserve = r.quote_budget
    if reserve > MAX_MINOR_UNITS:
        raise InvalidQuantity("The order is too large.", fields={"quantity": ["Too large."]})
    return reserve


def order_test(*, user: User, market: Market, request: OrderRequest) -> int:
    """Validate an order fully, funds included, without placing it. Returns what it would hold."""
    reserve = order_check(market=market, request=request)
    pays_in = market.quote_id if request.side == Order.Side.BUY else market.base_id
    account = Account.objects.filter(user=user, currency_id=pays_in, kind=Account.Kind.USER).first()
    available = account.available if account else 0
    if available < reserve:
        raise InsufficientFunds(_insufficient_message(market, request.side, available))
    return reserve


@transaction.atomic(durable=True)
def order_place(*, user: User, market_id: int, request: OrderRequest, wait: bool = True) -> Order:
    """Place an order: hold, match, settle every trade, rest or close the remainder — all or nothing. Without
    `wait`, store.MarketBusy (and nothing done) if another transaction holds the market (PostgreSQL)."""
    readable = _book_readable(request)
    found = store.lock_market_for_order(
        market_id,
        user_id=user.pk,
        client_order_id=request.client_order_id,
        taker_side=request.side if readable else None,
        limit_price=request.price if request.type == Order.Type.LIMIT else None,
        count_open=readable and request.type == Order.Type.LIMIT and request.time_in_force == Order.TimeInForce.GTC,
        wait=wait,
    )
    market = _must_exist(found.market)
    reserve = order_check(market=market, request=request)
    if found.earlier_id is not None:
        return _replay(Order.objects.get(pk=found.earlier_id), market, request)
    settlement = _Settlement(market=market, user=user, request=request, reserve=reserve, found=found)
    try:
        return settlement.run()
    except IntegrityError as error:  # placed in another market meanwhile: both passed the look-up
        if store.client_order_id_taken(error):
            raise IdempotencyConflict("This client order id is in use by another order.") from error
        raise


def _book_readable(request: OrderRequest) -> bool:
    """Whether the request is well-formed enough to read the book for before it is checked (order_check, which
    needs the locked market, says what is wrong otherwise)."""
    if request.side not in SIDES:
        return False
    if request.type == Order.Type.MARKET:
        return True
    return request.type == Order.Type.LIMIT and _is_int(request.price) and 0 < request.price <= MAX_MINOR_UNITS


@transaction.atomic(durable=True)
def order_cancel(*, user: User, order_id: int) -> Order:
    """Cancel one of the user's open orders and release exactly what it still held."""
    market, orders, accounts = store.lock_market_for_cancel(user.pk, order_id=order_id)
    if market is None:
        raise NotFound("There is no such order.", fields={"order": ["No such order."]})
    [order] = orders  # as it is under the lock
    if not order.is_open:
        raise OrderNotOpen(f"The order is {order.get_status_display().lower()} and cannot be cancelled.")
    [cancelled] = _cancel_locked(market, orders, accounts, reason="cancelled")
    return cancelled


@transaction.atomic(durable=True)
def orders_cancel_all(*, user: User, market_id: int) -> list[Order]:
    """Cancel all of the user's open orders in a market."""
    market, orders, accounts = store.lock_market_for_cancel(user.pk, market_id=market_id)
    _must_exist(market)
    return _cancel_locked(market, orders, accounts, reason="cancelled") if orders else []


# --- settlement -------------------------------------------------------------------------------------------------


@dataclass
class _Settlement:
    """One order's settlement, step by step, inside order_place's transaction and under its market lock."""

    market: Market
    user: User
    request: OrderRequest
    reserve: int
    found: store.OrderLocks
    resting_rows: dict[int, RestingRow] = field(default_factory=dict)
    accounts: dict[tuple, Account] = field(default_factory=dict)
    keys: tuple[int, list[int]] | None = None  # the taker's and the journal entries', if drawn beforehand
    now: datetime = field(default_factory=timezone.now)

    def run(self) -> Order:
        market, request = self.market, self.request
        result = matching.match(self._incoming(), self._opposite(), self._rules())
        if result.outcome == matching.Outcome.REJECTED:
            taker = self._taker(result, reserved=0, fees=0)
            self._write({}, taker=taker, entries=[], trades=[])
            return taker
        open_orders = self._lock_accounts(result)
        pays = self._account(self.user.pk, market.quote_id if request.side == "buy" else market.base_id)
        self._check_funds(pays)
        if result.resting_quantity and open_orders >= MAX_OPEN_ORDERS_PER_MARKET:
            raise TooManyOpenOrders(f"At most {MAX_OPEN_ORDERS_PER_MARKET} open orders per market; cancel some first.")
        levels: dict[tuple[str, int], int] = defaultdict(int)  # (side, price) -> change of its open quantity
        cancelled = self._cancel_self_trades(result, levels)
        taker_reserved = self._taker_reserved_after(result)
        pays.held += taker_reserved
        trades, entries, taker_fees = self._settle_fills(result, levels)
        taker = self._taker(result, reserved=taker_reserved, fees=taker_fees)
        if result.resting_quantity:
            levels[request.side, request.price] += result.resting_quantity
        makers = self._makers(result, cancelled)
        self._write(levels, taker=taker, entries=entries, trades=trades, makers=makers)
        return taker

    def _write(self, levels, *, taker: Order, entries, trades: list[Trade], makers: list[Order] = ()) -> None:
        """Write the settlement, then schedule its feed message.

        One round trip. Postings and trades refer to the keys of the taker order and of the journal entries: on
        PostgreSQL those keys were drawn with the account locks; SQLite inserts the two first to learn them.
        """
        statements = []
        if trades:
            postings = ledger.journal_apply(entries)
            if self.keys:
                taker.pk, entry_keys = self.keys
                journal = [
                    new_instance(JournalEntry, pk=key, kind=JournalEntry.Kind.TRADE, created_at=self.now)
                    for key in entry_keys
                ]
                statements += [
                    store.insert_statement(Order, [taker], keyed=True),
                    store.insert_statement(JournalEntry, journal, returning=False, keyed=True),
                ]
            else:
                entry = JournalEntry(kind=JournalEntry.Kind.TRADE, created_at=self.now)
                journal = store.insert_statement(JournalEntry, [entry] * len(entries))
                [taker_key, entry_keys] = run_statements([store.insert_statement(Order, [taker]), journal])
                self._taker_inserted(taker, taker_key)
                entry_keys = [key for (key,) in entry_keys]
            trades_at = len(statements) + 1
            statements += self._trade_statements(trades, entry_keys, postings, taker)
        else:
            statements.append(store.insert_statement(Order, [taker]))
        statements += update_rows_statements(Account, ["balance", "held"], self.accounts.values())
        statements += update_rows_statements(Order, MAKER_FIELDS, makers)
        results, totals = _run_with_book_change(self.market, levels, statements)
        if not trades or self.keys:
            self._taker_inserted(taker, results[0])
        for trade, (key,) in zip(trades, results[trades_at] if trades else [], strict=True):
            trade.pk = key
        events.on_commit_publish(
            market=self.market, levels=totals, trades=trades, orders=[taker, *makers], accounts=self._user_accounts()
        )

    def _trade_statements(self, trades: list[Trade], entry_keys: list[int], postings, taker: Order) -> list:
        """Insert the postings and the trades (RETURNING their keys) and fold the trades into their candle."""
        for trade, entry_key in zip(trades, entry_keys, strict=True):
            trade.entry_id, trade.taker_order_id, trade.created_at = entry_key, taker.pk, self.now
        rows = [
            new_instance(Posting, entry_id=entry_keys[index], account_id=a.pk, amount=amount)
            for index, a, amount in postings
        ]
        prices = [trade.price for trade in trades]
        minute = self.now.replace(second=0, microsecond=0)
        volume, quote_volume = sum(t.quantity for t in trades), sum(t.quote_amount for t in trades)
        return [
            store.insert_statement(Posting, rows, returning=False),
            store.insert_statement(Trade, trades),
            store.candle_statement(self.market.pk, minute, prices, volume, quote_volume),
        ]

    def _user_accounts(self) -> list[Account]:
        return [account for account in self.accounts.values() if account.user_id]

    def _taker_inserted(self, taker: Order, keys: list[tuple]) -> None:
        taker.pk = keys[0][0]
        taker._state.adding = False

    # The steps, in the order run() takes them.

    def _check_funds(self, pays: Account) -> None:
        if pays.available < self.reserve:
            raise InsufficientFunds(_insufficient_message(self.market, self.request.side, pays.available))

    def _rules(self) -> matching.Rules:
        return matching.Rules(base_scale=10**self.market.base.decimals, lot=self.market.lot, tick=self.market.tick)

    def _incoming(self) -> matching.Incoming:
        r = self.request
        return matching.Incoming(
            order_id=0,
            owner_id=self.user.pk,
            side=matching.Side(r.side),
            price=r.price,
            quantity=r.quantity,
            quote_budget=r.quote_budget,
            time_in_force=matching.TimeInForce(r.time_in_force),
            post_only=r.post_only,
            stp=matching.SelfTradePrevention(r.self_trade),
        )

    def _opposite(self):
        limit = self.request.price if self.request.type == Order.Type.LIMIT else None
        return opposite_orders(
            market_id=self.market.pk,
            taker_side=self.request.side,
            limit_price=limit,
            rows=self.resting_rows,
            first_batch=self.found.first_batch,
        )

    def _lock_accounts(self, result: matching.MatchResult) -> int:
        """Lock the taker's, every maker's and (with fees) the fee accounts in key order; count the taker's open
        orders if this one would rest. At most one round trip: none when nothing crossed, as the market lock's
        round trip locked the taker's accounts then. The taker gets accounts in both currencies if it has none,
        so a maker always has somewhere to receive."""
        market, taker_id = self.market, self.user.pk
        currencies = (market.base_id, market.quote_id)
        open_orders = self.found.open_orders
        for account in self.found.taker_accounts:  # locked only if nothing crossed: then no one else is needed
            self.accounts[(account.user_id, account.currency_id)] = account
        if len(self.accounts) < len(currencies) or result.fills or result.cancelled_resting:
            user_ids = sorted({taker_id} | {fill.maker_owner_id for fill in result.fills})
            fees = bool(result.fills) and bool(market.maker_fee_bps or market.taker_fee_bps)
            statements = [locks.accounts_lock_statement(currency_ids=currencies, user_ids=user_ids, fees=fees)]
            count = result.resting_quantity and open_orders is None
            if count:
                statements.append(store.open_orders_statement(market_id=market.pk, user_id=taker_id))
            allocate = []
            if result.fills and connection.vendor == "postgresql":  # SQLite has no sequences to draw from
                allocate = [
                    store.allocate_keys_statement(Order, 1),
                    store.allocate_keys_statement(JournalEntry, len(result.fills)),
                ]
            results = iter(run_statements(statements + allocate))
            for account in locks.accounts_from_rows(next(results)):
                self.accounts[(account.user_id, account.currency_id)] = account
            if count:
                open_orders = next(results)[0][0]
            if allocate:
                [(order_key,)], entry_keys = next(results), next(results)
                self.keys = order_key, sorted(key for (key,) in entry_keys)
        missing = [currency_id for currency_id in currencies if (taker_id, currency_id) not in self.accounts]
        if missing:  # a first order in this market: new rows are this transaction's alone until it commits
            for currency in (market.base, market.quote):
                if currency.pk in missing:
                    ledger.account_for(user=self.user, currency=currency)
            lock = locks.accounts_lock_statement(currency_ids=missing, user_ids=[taker_id], fees=False)
            [rows] = run_statements([lock])
            for account in locks.accounts_from_rows(rows):
                self.accounts[(account.user_id, account.currency_id)] = account
        return open_orders if result.resting_quantity else 0

    def _account(self, user_id: int | None, currency_id: int) -> Account:
        return self.accounts[(user_id, currency_id)]

    def _cancel_self_trades(self, result, levels) -> list[RestingRow]:
        rows = [self.resting_rows[order_id] for order_id in result.cancelled_resting]
        for row in rows:
            currency_id = self.market.quote_id if row.side == "buy" else self.market.base_id
            ledger.funds_release(self._account(row.user_id, currency_id), row.reserved)
            levels[row.side, row.price] -= row.quantity - row.filled_quantity
        return rows

    def _taker_reserved_after(self, result: matching.MatchResult) -> int:
        if not result.resting_quantity:
            return 0
        if self.request.side == "buy":
            return result.resting_quantity * self.request.price // 10**self.market.base.decimals
        return result.resting_quantity

    def _settle_fills(self, result, levels) -> tuple[list[Trade], list[list[tuple[Account, int]]], int]:
        """Build each trade and its journal entry (both legs and fees); move the makers' holds."""
        market, taker_id = self.market, self.user.pk
        taker_buys = self.request.side == "buy"
        base_id, quote_id = market.base_id, market.quote_id
        trades, entries, taker_fees = [], [], 0
        for fill in result.fills:
            row = self.resting_rows[fill.maker_order_id]
            buyer_id, seller_id = (taker_id, fill.maker_owner_id) if taker_buys else (fill.maker_owner_id, taker_id)
            buyer_bps, seller_bps = (
                (market.taker_fee_bps, market.maker_fee_bps)
                if taker_buys
                else (market.maker_fee_bps, market.taker_fee_bps)
            )
            buyer_fee = fill.quantity * buyer_bps // 10_000
            seller_fee = fill.quote_amount * seller_bps // 10_000
            legs = [
                (self._account(buyer_id, quote_id), -fill.quote_amount),
                (self._account(seller_id, quote_id), fill.quote_amount - seller_fee),
                (self._account(seller_id, base_id), -fill.quantity),
                (self._account(buyer_id, base_id), fill.quantity - buyer_fee),
            ]
            if seller_fee:
                legs.append((self._account(None, quote_id), seller_fee))
            if buyer_fee:
                legs.append((self._account(None, base_id), buyer_fee))
            entries.append(legs)
            # The maker spends from its hold; the taker's spending never touched its hold beyond what rests.
            maker_spent = fill.quote_amount if row.side == "buy" else fill.quantity
            ledger.funds_release(self._account(row.user_id, quote_id if row.side == "buy" else base_id), maker_spent)
            row.reserved -= maker_spent
            row.filled_quantity += fill.quantity
            row.filled_quote += fill.quote_amount
            row.fees_paid += buyer_fee if row.side == "buy" else seller_fee
            taker_fees += seller_fee if taker_buys else buyer_fee
            levels[row.side, row.price] -= fill.quantity
            trades.append(
                new_instance(
                    Trade,
                    market=market,
                    price=fill.price,
                    quantity=fill.quantity,
                    quote_amount=fill.quote_amount,
                    taker_side=self.request.side,
                    maker_order_id=row.order_id,
                    buyer_id=buyer_id,
                    seller_id=seller_id,
                    buyer_fee=buyer_fee,
                    seller_fee=seller_fee,
                )
            )
        return trades, entries, taker_fees

    def _taker(self, result: matching.MatchResult, *, reserved: int, fees: int) -> Order:
        r = self.request
        status = {
            matching.Outcome.RESTING: Order.Status.PARTIALLY_FILLED if result.fills else Order.Status.OPEN,
            matching.Outcome.FILLED: Order.Status.FILLED,
            matching.Outcome.CANCELLED: Order.Status.CANCELLED,
            matching.Outcome.REJECTED: Order.Status.REJECTED,
        }[result.outcome]
        return new_instance(
            Order,
            market=self.market,
            user=self.user,
            client_order_id=r.client_order_id,
            side=r.side,
            type=r.type,
            time_in_force=r.time_in_force,
            post_only=r.post_only,
            self_trade=r.self_trade,
            price=r.price,
            quantity=r.quantity,
            quote_budget=r.quote_budget,
            filled_quantity=result.filled_quantity,
            filled_quote=result.quote_total,
            fees_paid=fees,
            reserved=reserved,
            status=status,
            reason=result.reason or "",
            created_at=self.now,
            updated_at=self.now,
        )

    def _makers(self, result: matching.MatchResult, cancelled: list[RestingRow]) -> list[Order]:
        orders = []
        for fill in result.fills:
            row = self.resting_rows[fill.maker_order_id]
            status = Order.Status.FILLED if row.filled_quantity == row.quantity else Order.Status.PARTIALLY_FILLED
            orders.append(_order_update(row, status=status, reason="", now=self.now))
        for row in cancelled:
            row.reserved = 0
            orders.append(_order_update(row, status=Order.Status.CANCELLED, reason="self_trade", now=self.now))
        return list({order.pk: order for order in orders}.values())  # a maker filled twice keeps its last state


MAKER_FIELDS = ["filled_quantity", "filled_quote", "fees_paid", "reserved", "status", "reason", "updated_at"]


def _order_update(row: RestingRow, *, status: str, reason: str, now) -> Order:
    return new_instance(
        Order,
        pk=row.order_id,
        user_id=row.user_id,
        side=row.side,
        price=row.price,
        quantity=row.quantity,
        filled_quantity=row.filled_quantity,
        filled_quote=row.filled_quote,
        fees_paid=row.fees_paid,
        reserved=row.reserved,
        status=status,
        reason=reason,
        updated_at=now,
    )


def _cancel_locked(market: Market, orders: list[Order], locked: list[Account], *, reason: str) -> list[Order]:
    """Cancel open orders of one user under the market lock, releasing exactly what each still held from the
    user's `locked` accounts in the market's currencies; the last statements of the caller's transaction."""
    touched = {market.quote_id if order.side == "buy" else market.base_id for order in orders}
    accounts = {account.currency_id: account for account in locked if account.currency_id in touched}
    now = timezone.now()
    levels: dict[tuple[str, int], int] = defaultdict(int)
    for order in orders:
        ledger.funds_release(accounts[market.quote_id if order.side == "buy" else market.base_id], order.reserved)
        order.reserved, order.status, order.reason, order.updated_at = 0, Order.Status.CANCELLED, reason, now
        levels[order.side, order.price] -= order.quantity - order.filled_quantity
    statements = update_rows_statements(Account, ["balance", "held"], accounts.values())
    statements += update_rows_statements(Order, ["reserved", "status", "reason", "updated_at"], orders)
    _, totals = _run_with_book_change(market, levels, statements)
    events.on_commit_publish(market=market, levels=totals, trades=[], orders=orders, accounts=list(accounts.values()))
    return orders


def _run_with_book_change(market: Market, levels: dict[tuple[str, int], int], statements: list) -> tuple[list, list]:
    """Run the last statements of a change in one round trip, COMMIT with them (run_statements' `last`). If book
    levels changed (`levels`: the change of each level's open quantity), bump the book's sequence and apply the
    changes to the levels in the same trip, returning each changed level's new total (0 = the level is gone; the
    database refuses one below zero)."""
    if levels:
        market.sequence += 1
        changes = {(market.pk, *level): change for level, change in levels.items()}
        statements = [*statements, store.sequence_statement(market), *store.level_change_statements(changes)]
    results = run_statements(statements, last=True)
    totals = {(side, price): quantity for _, side, price, quantity in results[-2]} if levels else {}
    return results, [(side, price, totals[side, price]) for side, price in sorted(levels)]


def _must_exist(market: Market | None) -> Market:
    if market is None:
        raise NotFound("There is no such market.", fields={"market": ["No such market."]})
    return market


def _replay(earlier: Order, market: Market, request: OrderRequest) -> Order:
    """A retried placement with the same client order id returns the first order, if it asked for the same."""
    same = (
        earlier.market_id == market.pk
        and (earlier.side, earlier.type, earlier.price, earlier.quantity, earlier.quote_budget)
        == (request.side, request.type, request.price, request.quantity, request.quote_budget)
        and (earlier.time_in_force, earlier.post_only, earlier.self_trade)
        == (request.time_in_force, request.post_only, request.self_trade)
    )
    if not same:
        raise IdempotencyConflict("This client order id was used for a different order.")
    return earlier


def _check_quantity(market: Market, quantity) -> None:
    base = market.base
    if not _is_int(quantity) or not 0 < quantity <= MAX_MINOR_UNITS:
        raise InvalidQuantity("The quantity must be positive.", fields={"quantity": ["Must be positive."]})
    if quantity % market.lot:
        step = base.format(market.lot)
        raise InvalidQuantity(
            f"The quantity must be a multiple of the lot size, {step} {base.code}.",
            fields={"quantity": [f"Use a multiple of {step}."]},
        )
    if quantity < market.min_quantity:
        least = base.format(market.min_quantity)
        raise InvalidQuantity(
            f"The smallest order is {least} {base.code}.", fields={"quantity": [f"At least {least}."]}
        )


def _check_price(market: Market, price) -> None:
    quote = market.quote
    if not _is_int(price) or not 0 < price <= MAX_MINOR_UNITS:
        raise InvalidPrice("A limit order needs a positive price.", fields={"price": ["Must be positive."]})
    if price % market.tick:
        step = quote.format(market.tick)
        raise InvalidPrice(
            f"The price must be a multiple of the tick, {step} {quote.code}.",
            fields={"price": [f"Use a multiple of {step}."]},
        )


def _insufficient_message(market: Market, side: str, available: int) -> str:
    currency = market.quote if side == Order.Side.BUY else market.base
    return f"Not enough {currency.code}: {currency.format(available)} available."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
