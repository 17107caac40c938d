"""Placing many orders of one or more markets in one transaction: what the order writers run (markets/writer.py).

Each order is settled exactly as order_place settles it (the same _Settlement steps), one after another in arrival
order (market by market, in key order), against a book that holds the batch's own resting orders too. The batch
then writes everything with multi-row statements and commits once: three round trips and one commit for the whole
batch, where order_place takes two or three and a commit per order. Several markets in one batch is what lets a
writer serving many quiet markets batch at all: each market alone would give it one order at a time.

The lock order is kept (market rows by key, then accounts by key): a trade changes its makers' accounts, which
are only known after matching, so the batch
1. locks the markets and reads, without locking them, the takers' accounts (round trip 1);
2. settles every order in memory: funds checks against the accounts read, makers' and fee accounts as stand-ins
   that only collect changes;
3. locks every account it touched, in key order, and draws the keys of its orders and journal entries (2);
4. rebases each account's changes on its locked row and checks that every funds decision still holds there (an
   account may have changed between the read and the lock: a transfer, another market). If one flips, the batch
   is settled again from the locked rows; if that settlement touches an account not locked, the transaction is
   rolled back and the batch placed order by order with order_place;
5. writes orders, journal entries, postings, trades, candles, accounts, makers, book levels and the
   sequences (3), commits, and only then sends each order's feed message, under a sequence of its own.
"""

import bisect
import copy
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from exchange.db import Statement, new_instance, run_statements, update_rows_statements
from exchange.errors import DomainError, NotFound
from ledger import locks
from ledger import services as ledger
from ledger.models import Account, Currency, JournalEntry, Posting
from markets import events, matching, store
from markets.book import BATCH, OPEN_STATUSES_SQL, RestingRow, batch_statement, maker_side
from markets.models import OPEN_STATUSES, Market, Order, Trade
from markets.services import MAKER_FIELDS, OrderRequest, _replay, _Settlement, order_check, order_place

# What an account the batch only writes to (a maker's, a fee account) starts from in memory: large enough that no
# release or credit in a batch can take it out of range, and never compared with anything.
STAND_IN = 1 << 62


@dataclass(frozen=True)
class Placement:
    """One order to place: whose, and what (validated amounts in minor units)."""

    user_id: int
    request: OrderRequest


class _OrderByOrder(Exception):
    """The batch cannot be written as one; it was rolled back and is placed order by order instead."""


class _NeedAccounts(Exception):
    """Takers without an account in a currency of their market: they get them, then the batch runs again."""

    def __init__(self, pairs: set[tuple[int, int]]):
        super().__init__(sorted(pairs))
        self.pairs = pairs  # (user, currency)


def orders_place_batch(*, market_id: int, placements: Sequence[Placement]) -> list[Order | DomainError]:
    """Place the orders of one market in one transaction, in their order; return each one's order, or the error
    it met. Every order gets what order_place would have given it, placed alone at that moment."""
    return orders_place_batches({market_id: placements})[market_id]


def orders_place_batches(batches: Mapping[int, Sequence[Placement]]) -> dict[int, list[Order | DomainError]]:
    """Place the orders of several markets (market key -> its orders, in order) in one transaction, market by
    market in key order; return each market's results as orders_place_batch does."""
    results = {market_id: [] for market_id in batches}
    batches = {market_id: list(placements) for market_id, placements in sorted(batches.items()) if placements}
    # Keys are drawn from PostgreSQL's sequences; one order alone is order_place's.
    if connection.vendor == "postgresql" and sum(map(len, batches.values())) > 1:
        for _ in range(2):
            try:
                return results | _place_together(batches)
            except _NeedAccounts as need:
                _open_accounts(need.pairs)
            except _OrderByOrder:
                break
    for market_id, placements in batches.items():
        results[market_id] = [place_alone(market_id, placement) for placement in placements]
    return results


def place_alone(market_id: int, placement: Placement) -> Order | DomainError:
    """The placement through order_place: its order, or the domain error it met."""
    try:
        return order_place(user=User(pk=placement.user_id), market_id=market_id, request=placement.request)
    except DomainError as error:
        return error


def _open_accounts(pairs: set[tuple[int, int]]) -> None:
    for user_id, currency_id in sorted(pairs):
        ledger.account_for(user=User(pk=user_id), currency=Currency(pk=currency_id))


def _place_together(batches: dict[int, list[Placement]]) -> dict[int, list[Order | DomainError]]:
    run = _settle_together(batches)
    return run.results(batches)  # replays of earlier orders are read after the commit


@transaction.atomic(durable=True)
def _settle_together(batches: dict[int, list[Placement]]) -> "_Run":
    reading = _Reading.read(batches)
    run = _Run(reading, reading.taker_rows)
    run.settle(batches)
    if run.placed:
        locked, keys = _lock_accounts_and_draw_keys(run)
        if not run.rebase(locked):
            # Exact now: every account it reads is locked. Copies: rebase needs the locked rows as they were.
            run = _Run(reading, [copy.copy(row) for row in locked.values()])
            run.settle(batches)
            if not run.rebase(locked):
                raise _OrderByOrder
        run.write(keys)
    return run


@dataclass
class _Snapshot:
    """What the batch read of one market under its lock (round trip 1), kept as rows so it can be settled again."""

    market: Market | None
    pages: dict[matching.Side, list[list[tuple]]]  # each side's book as read so far, page by page (maybe none)
    open_orders: dict[int, int]  # each taker's open orders in the market


@dataclass
class _Reading:
    """Round trip 1: every market locked and read, in key order; what the batch's takers had before it."""

    snapshots: dict[int, _Snapshot]
    earlier: dict[tuple[int, str], int]  # (user, client order id) -> the order that has it already
    taker_rows: list[Account]  # the takers' accounts in the markets' currencies, as read (not locked)

    @classmethod
    def read(cls, batches: dict[int, list[Placement]]) -> "_Reading":
        placements = [placement for batch in batches.values() for placement in batch]
        client_ids = sorted(
            {(p.user_id, p.request.client_order_id) for p in placements if p.request.client_order_id is not None}
        )
        table = Order._meta.db_table
        statements: list[Statement] = []
        sides_met = {market_id: _sides_met(batch) for market_id, batch in batches.items()}
        for market_id, batch in batches.items():
            users = sorted({placement.user_id for placement in batch})
            statements += [
                (store._market_sql(connection.vendor, "id", True), [market_id]),
                *(batch_statement(market_id, side, None, None) for side in sides_met[market_id]),
                (
                    f"SELECT user_id, COUNT(*) FROM {table} WHERE market_id = %s AND user_id IN "
                    f"({', '.join(['%s'] * len(users))}) AND status IN ({OPEN_STATUSES_SQL}) GROUP BY user_id",
                    [market_id, *users],
                ),
                locks.accounts_lock_statement(
                    currencies_in=store._currencies_of("%s", [market_id]), user_ids=users, fees=False, lock=False
                ),
            ]
        if client_ids:
            pairs = ", ".join(["(%s, %s)"] * len(client_ids))
            statements.append(
                (
                    f"SELECT user_id, client_order_id, id FROM {table} WHERE (user_id, client_order_id) IN ({pairs})",
                    [value for pair in client_ids for value in pair],
                )
            )
        results = iter(run_statements(statements))
        snapshots, taker_rows = {}, {}
        for market_id in batches:
            market_rows = next(results)
            pages = {side: [next(results)] if side in sides_met[market_id] else [] for side in matching.Side}
            snapshots[market_id] = _Snapshot(
                market=store._market_from_row(market_rows[0]) if market_rows else None,
                pages=pages,
                open_orders=dict(next(results)),
            )
            for account in locks.accounts_from_rows(next(results)):
                taker_rows.setdefault((account.user_id, account.currency_id), account)
        taker_rows = list(taker_rows.values())
        earlier = {(user_id, client_id): key for user_id, client_id, key in next(results)} if client_ids else {}
        return cls(snapshots=snapshots, earlier=earlier, taker_rows=taker_rows)


def _sides_met(batch: list[Placement]) -> list[matching.Side]:
    """The sides of the book the batch's orders can trade against: the first round trip reads only those (a side
    no order meets is read only if one does after all, by _BookSide._more)."""
    met = {maker_side(placement.request.side) for placement in batch}
    return [side for side in matching.Side if side in met]


class _BookSide:
    """One side of the book as the batch sees it: the database's open orders, read page by page in priority order,
    merged with the batch's own resting orders, which come after every database order at their price."""

    def __init__(self, market_id: int, side: matching.Side, pages: list[list[tuple]], rows: dict[int, RestingRow]):
        self.market_id, self.side, self.pages, self.rows = market_id, side, pages, rows
        self.side_value = side.value
        self.stored: list[tuple] = [row for page in pages for row in page]  # as read (batch_statement), in order
        self.added: list[RestingRow] = []  # the batch's resting orders, in priority order
        self.closed: set[int] = set()  # orders filled or cancelled in this batch

    def _stored_row(self, index: int) -> RestingRow:
        """The index-th database order, made a row when the engine first reaches it: most of a page never is, and
        making a row of every order read cost about a tenth of a batch's CPU at 8 orders in 8 markets."""
        order_id, user_id, price, quantity, filled, filled_quote, fees_paid, reserved = self.stored[index]
        row = self.rows.get(order_id)
        if row is None:
            row = self.rows[order_id] = RestingRow(
                order_id, user_id, self.side_value, price, quantity, filled, filled_quote, fees_paid, reserved
            )
        return row

    def _more(self) -> bool:
        """Read the next page (a round trip) if the last one was full, or the first if none was read."""
        after = None
        if self.pages:
            last = self.pages[-1]
            if len(last) < BATCH:
                return False
            after = (last[-1][2], last[-1][0])
        [page] = run_statements([batch_statement(self.market_id, self.side, None, after)])
        self.pages.append(page)
        self.stored.extend(page)
        return bool(page)

    def _rank(self, row: RestingRow) -> int:
        return row.price if self.side == matching.Side.SELL else -row.price

    def add(self, row: RestingRow) -> None:
        self.rows[row.order_id] = row
        bisect.insort_right(self.added, row, key=self._rank)  # after its equals: later in time

    def resting(self) -> Iterator[matching.Resting]:
        """The open orders in priority order, as the engine consumes them."""
        stored = added = 0
        while True:
            if stored == len(self.stored):
                self._more()
            old = self._stored_row(stored) if stored < len(self.stored) else None
            new = self.added[added] if added < len(self.added) else None
            if old is None and new is None:
                return
            if new is None or (old is not None and self._rank(old) <= self._rank(new)):
                row, stored = old, stored + 1
            else:
                row, added = new, added + 1
            remaining = row.quantity - row.filled_quantity
            if remaining and row.order_id not in self.closed:
                yield matching.Resting(row.order_id, row.user_id, self.side, row.price, remaining)


@dataclass
class _Placed:
    """One order the batch settled: what it writes and what its feed message tells."""

    order: Order
    entries: list[list[tuple[Account, int]]]
    trades: list[Trade]
    makers: list[Order]  # stored orders it changed, as it left them
    levels: dict[tuple[str, int], int]
    accounts: set[tuple]  # the user accounts it touched


@dataclass
class _FundsCheck:
    account: tuple
    available: int
    needed: int


class _Run:
    """One settlement of the whole batch in memory, every market's, from a reading and a set of account rows.
    The accounts are shared: an order in one market sees what an earlier one in another did to its owner's funds."""

    def __init__(self, reading: _Reading, account_rows: list[Account]):
        self.reading = reading
        self.now = timezone.now()
        self.accounts: dict[tuple, Account] = {}
        self.start: dict[tuple, tuple[int, int]] = {}  # each account's (balance, held) before the batch
        for account in account_rows:
            self._keep(account)
        self.checks: list[_FundsCheck] = []
        self.client_ids: dict[tuple[int, str], Order] = {}  # the batch's own orders by client order id
        self.batches = {
            market_id: _Batch(self, snapshot)
            for market_id, snapshot in reading.snapshots.items()
            if snapshot.market is not None
        }

    @property
    def placed(self) -> list["_Placed"]:
        return [placed for batch in self.batches.values() for placed in batch.placed]

    def _keep(self, account: Account) -> None:
        key = (account.user_id, account.currency_id)
        self.accounts[key] = account
        self.start[key] = (account.balance, account.held)

    def account(self, user_id: int | None, currency_id: int) -> Account:
        """The account, or a stand-in for one this batch only writes to (its row is locked before the write)."""
        key = (user_id, currency_id)
        if key not in self.accounts:
            kind = Account.Kind.USER if user_id else Account.Kind.FEE
            self._keep(
                new_instance(
                    Account, user_id=user_id, currency_id=currency_id, kind=kind, balance=STAND_IN, held=STAND_IN
                )
            )
        return self.accounts[key]

    def settle(self, batches: dict[int, list[Placement]]) -> None:
        for market_id, batch in self.batches.items():
            batch.settle(batches[market_id])

    def rebase(self, locked: dict[tuple, Account]) -> bool:
        """Move each account's changes onto its locked row. False if a funds decision would differ there, or an
        account touched is not among those locked."""
        if not self.accounts.keys() <= locked.keys():
            return False
        for check in self.checks:
            row = locked[check.account]
            balance, held = self.start[check.account]
            now_available = check.available + (row.balance - row.held) - (balance - held)
            if (now_available >= check.needed) != (check.available >= check.needed):
                return False
        for key, account in self.accounts.items():
            row = locked[key]
            balance, held = self.start[key]
            account.pk = row.pk
            account.balance = row.balance + account.balance - balance
            account.held = row.held + account.held - held
            if account.user_id is not None and not 0 <= account.held <= account.balance:
                raise AssertionError(f"account {row.pk} would hold {account.held} of {account.balance}")
        return True

    def write(self, keys: "_Keys") -> None:
        """Write the batch in one round trip (two if a second settlement needs more keys than were drawn), every
        market's rows in the same statements, COMMIT with them, and schedule its feed messages."""
        placed = self.placed
        keys.draw_more(orders=len(placed), entries=sum(len(one.entries) for one in placed))
        batches = [batch for batch in self.batches.values() if batch.placed]
        for batch in batches:
            batch.prepare(keys)
        orders = [order for batch in batches for order in batch.orders]
        trades = [trade for batch in batches for trade in batch.trades]
        levels = {(batch.market.pk, *level): change for batch in batches for level, change in batch.levels.items()}
        statements = [store.insert_statement(Order, orders, keyed=True)]
        if trades:
            journal = [entry for batch in batches for entry in batch.journal]
            postings = [posting for batch in batches for posting in batch.postings]
            statements += [
                store.insert_statement(Trade, trades),
                store.insert_statement(JournalEntry, journal, returning=False, keyed=True),
                store.insert_statement(Posting, postings, returning=False),
                *(batch.candle_statement() for batch in batches if batch.trades),
            ]
        statements += update_rows_statements(Account, ["balance", "held"], self.accounts.values())
        statements += update_rows_statements(Order, MAKER_FIELDS, [m for batch in batches for m in batch.makers])
        if levels:
            changed = [batch.market for batch in batches if batch.levels]
            statements += [
                *update_rows_statements(Market, ["sequence"], changed),
                *store.level_change_statements(levels),
            ]
        try:
            results = run_statements(statements, last=True)
        except IntegrityError as error:
            if store.client_order_id_taken(error):  # by an order in another market meanwhile
                raise _OrderByOrder from error
            raise
        for trade, (key,) in zip(trades, results[1] if trades else [], strict=True):
            trade.pk = key
        totals = defaultdict(dict)
        for market_id, side, price, quantity in results[-2] if levels else []:
            totals[market_id][side, price] = quantity
        for batch in batches:
            batch.written(totals[batch.market.pk])

    def results(self, batches: dict[int, list[Placement]]) -> dict[int, list[Order | DomainError]]:
        return {
            market_id: self.batches[market_id].results(placements)
            if market_id in self.batches
            else [NotFound("There is no such market.", fields={"market": ["No such market."]}) for _ in placements]
            for market_id, placements in batches.items()
        }


class _Batch:
    """One market's part of the run: its book as the batch changes it, and the orders settled in it."""

    def __init__(self, run: _Run, snapshot: _Snapshot):
        market = snapshot.market
        self.run, self.market, self.now = run, market, run.now
        self.resting_rows: dict[int, RestingRow] = {}
        self.books = {
            side: _BookSide(market.pk, side, snapshot.pages[side], self.resting_rows) for side in matching.Side
        }
        self.open_orders = dict(snapshot.open_orders)
        self.placed: list[_Placed] = []
        self.outcomes: list = []  # per placement: _Placed, a DomainError, or ("earlier", order key)
        self.by_temporary_key: dict[int, Order] = {}

    def settle(self, placements: Sequence[Placement]) -> None:
        for placement in placements:
            try:
                self.outcomes.append(self._settle_one(placement))
            except DomainError as error:
                self.outcomes.append(error)

    def _settle_one(self, placement: Placement):
        request, user_id, run = placement.request, placement.user_id, self.run
        reserve = order_check(market=self.market, request=request)
        client_id = (user_id, request.client_order_id)
        if request.client_order_id is not None:
            if client_id in run.client_ids:
                return _replay(run.client_ids[client_id], self.market, request)
            if client_id in run.reading.earlier:
                return ("earlier", run.reading.earlier[client_id])
        settlement = _BatchSettlement(
            market=self.market,
            user=new_instance(User, pk=user_id),
            request=request,
            reserve=reserve,
            found=None,
            batch=self,
        )
        settlement.resting_rows = self.resting_rows
        settlement.accounts = run.accounts
        settlement.now = self.now
        settlement.run()
        placed = self.placed[-1]
        if request.client_order_id is not None:
            run.client_ids[client_id] = placed.order
        return placed

    def record(self, settlement: "_BatchSettlement", levels, taker: Order, entries, trades, makers) -> None:
        """Keep one order's settlement for the batch's write, and let the book see it."""
        ledger.journal_apply(entries)  # checks each entry balances; moves the balances in memory
        temporary = -(len(self.placed) + 1)  # the order's key until the keys are drawn
        self.by_temporary_key[temporary] = taker
        taker.pk = temporary
        stored = []
        for maker in makers:
            if maker.pk < 0:  # an order of this batch: it is inserted as it ends up
                order = self.by_temporary_key[maker.pk]
                for name in MAKER_FIELDS:
                    setattr(order, name, getattr(maker, name))
            else:
                stored.append(maker)
            if maker.status not in OPEN_STATUSES:
                self.books[matching.Side(maker.side)].closed.add(maker.pk)
                self.open_orders[maker.user_id] = self.open_orders.get(maker.user_id, 0) - 1
        if taker.status in OPEN_STATUSES:
            side = matching.Side(taker.side)
            self.books[side].add(
                RestingRow(
                    temporary,
                    taker.user_id,
                    side.value,
                    taker.price,
                    taker.quantity,
                    taker.filled_quantity,
                    taker.filled_quote,
                    taker.fees_paid,
                    taker.reserved,
                )
            )
            self.open_orders[taker.user_id] = self.open_orders.get(taker.user_id, 0) + 1
        touched = {key for key in settlement.touched if key[0] is not None}
        self.placed.append(_Placed(taker, entries, trades, stored, dict(levels), touched))

    def prepare(self, keys: "_Keys") -> None:
        """Key this market's orders, journal entries and trades, and gather what the run writes of it."""
        now = self.now
        self.orders = [placed.order for placed in self.placed]
        for order in self.orders:
            order.pk = keys.orders.pop(0)
        self.trades, self.postings, self.journal = [], [], []
        for placed in self.placed:
            placed_entry_keys = [keys.entries.pop(0) for _ in placed.entries]
            self.journal += [
                new_instance(JournalEntry, pk=key, kind=JournalEntry.Kind.TRADE, created_at=now)
                for key in placed_entry_keys
            ]
            for key, legs in zip(placed_entry_keys, placed.entries, strict=True):
                self.postings += [
                    new_instance(Posting, entry_id=key, account_id=account.pk, amount=amount)
                    for account, amount in legs
                    if amount
                ]
            for trade, key in zip(placed.trades, placed_entry_keys, strict=True):
                if trade.maker_order_id < 0:
                    trade.maker_order_id = self.by_temporary_key[trade.maker_order_id].pk
                trade.entry_id, trade.taker_order_id, trade.created_at = key, placed.order.pk, now
                self.trades.append(trade)
        self.makers = list({maker.pk: maker for placed in self.placed for maker in placed.makers}.values())
        self.levels: dict[tuple[str, int], int] = defaultdict(int)
        for placed in self.placed:
            for level, change in placed.levels.items():
                self.levels[level] += change
        self.start_sequence = self.market.sequence
        self.market.sequence += sum(1 for placed in self.placed if placed.levels)

    def candle_statement(self) -> Statement:
        minute = self.now.replace(second=0, microsecond=0)
        volume, quote_volume = sum(t.quantity for t in self.trades), sum(t.quote_amount for t in self.trades)
        return store.candle_statement(self.market.pk, minute, [t.price for t in self.trades], volume, quote_volume)

    def written(self, totals: dict[tuple[str, int], int]) -> None:
        """Once its rows are written: schedule the feed messages (`totals`: each changed level's new quantity)."""
        for order in self.orders:
            order._state.adding = False
        self._publish(self.start_sequence, totals)

    def _publish(self, start_sequence: int, totals: dict[tuple[str, int], int]) -> None:
        """One feed message per order, each under the sequence its change to the book took and with the levels it
        changed as they stood after it (the batch's final totals, less what the orders after it changed)."""
        sequence = start_sequence + sum(1 for placed in self.placed if placed.levels)
        messages = []
        for placed in reversed(self.placed):
            levels = [(side, price, totals[side, price]) for side, price in sorted(placed.levels)]
            messages.append((placed, sequence, levels))
            for level, change in placed.levels.items():
                totals[level] -= change
            if placed.levels:
                sequence -= 1
        for placed, sequence, levels in reversed(messages):
            view = copy.copy(self.market)
            view.sequence = sequence
            accounts = [self.run.accounts[key] for key in sorted(placed.accounts, key=lambda key: key[1])]
            events.on_commit_publish(
                market=view,
                levels=levels,
                trades=placed.trades,
                orders=[placed.order, *placed.makers],
                accounts=accounts,
            )

    def results(self, placements: Sequence[Placement]) -> list[Order | DomainError]:
        """Each placement's order or error; replays of earlier orders are read (after the commit) and compared."""
        results = []
        for placement, outcome in zip(placements, self.outcomes, strict=True):
            if isinstance(outcome, _Placed):
                results.append(outcome.order)
            elif isinstance(outcome, tuple):
                try:
                    results.append(_replay(Order.objects.get(pk=outcome[1]), self.market, placement.request))
                except DomainError as error:
                    results.append(error)
            else:
                results.append(outcome)
        return results


class _BatchSettlement(_Settlement):
    """order_place's settlement steps, with the batch's book and accounts, writing into the batch."""

    def __init__(self, *, batch: _Batch, **kwargs):
        super().__init__(**kwargs)
        self.batch = batch
        self.touched: set[tuple] = set()

    def _opposite(self):
        return self.batch.books[maker_side(self.request.side)].resting()

    def _lock_accounts(self, result: matching.MatchResult) -> int:
        market, batch, run, taker_id = self.market, self.batch, self.batch.run, self.user.pk
        currencies = (market.base_id, market.quote_id)
        missing = {(taker_id, currency_id) for currency_id in currencies if (taker_id, currency_id) not in run.accounts}
        if missing:
            raise _NeedAccounts(missing)
        users = {taker_id} | {fill.maker_owner_id for fill in result.fills}
        self.touched = {(user_id, currency_id) for user_id in users for currency_id in currencies}
        if result.fills and (market.maker_fee_bps or market.taker_fee_bps):
            self.touched |= {(None, currency_id) for currency_id in currencies}
        for user_id, currency_id in self.touched:
            run.account(user_id, currency_id)
        return batch.open_orders.get(taker_id, 0) if result.resting_quantity else 0

    def _check_funds(self, pays: Account) -> None:
        key = (pays.user_id, pays.currency_id)
        self.batch.run.checks.append(_FundsCheck(key, pays.available, self.reserve))
        super()._check_funds(pays)

    def _write(self, levels, *, taker: Order, entries, trades, makers=()) -> None:
        self.batch.record(self, levels, taker, entries, trades, list(makers))


def _lock_accounts_and_draw_keys(run: _Run) -> tuple[dict[tuple, Account], "_Keys"]:
    """Round trip 2: lock every account the batch touched (and the fee accounts of its fee currencies) in key
    order, returned by (user, currency); draw the keys its orders and journal entries need."""
    pairs = sorted(key for key in run.accounts if key[0] is not None)
    fee_currency_ids = sorted(currency_id for user_id, currency_id in run.accounts if user_id is None)
    placed, keys = run.placed, _Keys()
    statements = [
        locks.accounts_pairs_lock_statement(pairs=pairs, fee_currency_ids=fee_currency_ids),
        *keys.statements(orders=len(placed), entries=sum(len(one.entries) for one in placed)),
    ]
    rows, *drawn = run_statements(statements)
    keys.take(drawn)
    return {(account.user_id, account.currency_id): account for account in locks.accounts_from_rows(rows)}, keys


@dataclass
class _Keys:
    """Keys drawn from the orders' and journal entries' sequences, so rows that refer to each other can be
    inserted in one round trip."""

    orders: list[int] = field(default_factory=list)
    entries: list[int] = field(default_factory=list)

    def statements(self, *, orders: int, entries: int) -> list[Statement]:
        self._wanted = (orders - len(self.orders), entries - len(self.entries))
        return [
            store.allocate_keys_statement(model, count)
            for model, count in zip((Order, JournalEntry), self._wanted, strict=True)
            if count > 0
        ]

    def take(self, results: list[list[tuple]]) -> None:
        drawn = iter(results)
        for keys, count in zip((self.orders, self.entries), self._wanted, strict=True):
            if count > 0:
                keys.extend(sorted(key for (key,) in next(drawn)))

    def draw_more(self, *, orders: int, entries: int) -> None:
        statements = self.statements(orders=orders, entries=entries)
        if statements:
            self.take(run_statements(statements))
