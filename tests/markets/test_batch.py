"""A batch of orders placed in one transaction gives every order what order_place gives it alone.

Two twin markets with twin currencies, the same traders funded alike in both: one market takes a random stream of
orders in batches (markets/batch.py), the other the same orders one by one (order_place). After every batch the
two must agree on each order's outcome, every balance and hold, the book, the trades, the levels and the sequence.
"""

import dataclasses
import random

import pytest
from django.contrib.auth.models import User

from exchange.errors import DomainError, IdempotencyConflict, InsufficientFunds
from ledger import services as ledger
from ledger.models import Account
from markets import batch as batches
from markets import matching
from markets import services as markets
from markets.batch import Placement, orders_place_batch
from markets.models import BookLevel, Market, Order, Trade
from markets.services import OrderRequest
from tests.concurrency import run_together
from tests.conftest import fund, make_currency, make_user
from tests.helpers import assert_audit_passes
from tests.markets.conftest import account, place

place_alone = batches.place_alone

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

FEES = {"maker_fee_bps": 10, "taker_fee_bps": 25}


@pytest.fixture
def twins(alice):
    """Two markets alike in every way but their currencies: (batched, one by one)."""
    pairs = []
    for base_code, quote_code in (("GOLD", "BUCK"), ("SILV", "DOLR")):
        base = make_currency(alice, base_code, decimals=3)
        quote = make_currency(alice, quote_code, decimals=2)
        pairs.append(markets.market_create(user=alice, base=base, quote=quote, **FEES))
    return pairs


@pytest.fixture
def people(twins):
    """Five traders; the last two are short of funds, so some of their orders are refused."""
    users = [make_user(f"trader{n}") for n in range(5)]
    for index, user in enumerate(users):
        for market in twins:
            fund(user, market.base, 50_000 if index < 3 else 1_500)
            fund(user, market.quote, 2_000_000 if index < 3 else 30_000)
    return users


def random_request(rng: random.Random, serial: int) -> OrderRequest:
    side = rng.choice(["buy", "sell"])
    quantity = rng.randint(1, 12) * 100  # lots of 0.100
    options = {}
    if rng.random() < 0.15:
        options["self_trade"] = rng.choice(["cancel_resting", "cancel_incoming", "cancel_both"])
    if rng.random() < 0.2:
        options["client_order_id"] = f"c{rng.randint(0, serial)}"  # some repeat, as retries and mistakes do
    kind = rng.random()
    if kind < 0.12:
        if side == "sell":
            return OrderRequest(side="sell", type="market", quantity=quantity, **options)
        budget = rng.randint(1, 40) * 500
        with_quantity = quantity if rng.random() < 0.5 else None
        return OrderRequest(side="buy", type="market", quantity=with_quantity, quote_budget=budget, **options)
    price = rng.randint(90, 110) * 10 * 2  # 18.00 to 22.00 in ticks of 0.10... of 0.20
    if kind < 0.2:
        options["time_in_force"] = "ioc"
    elif kind < 0.27:
        options["time_in_force"] = "fok"
    elif kind < 0.33:
        options["post_only"] = True
    return OrderRequest(side=side, type="limit", quantity=quantity, price=price, **options)


def outcome(result) -> tuple:
    if isinstance(result, DomainError):
        return ("error", result.code)
    return (
        result.side,
        result.status,
        result.reason,
        result.filled_quantity,
        result.filled_quote,
        result.fees_paid,
        result.reserved,
        result.price,
        result.quantity,
    )


def not_order_by_order(*args, **kwargs):
    raise AssertionError("the batch fell back to placing its orders one by one")


def twin(request: OrderRequest) -> OrderRequest:
    """The same request for the twin market: client order ids are unique per user across markets."""
    if request.client_order_id is None:
        return request
    return dataclasses.replace(request, client_order_id=f"twin-{request.client_order_id}")


def final(result):
    return result if isinstance(result, DomainError) else Order.objects.get(pk=result.pk)


def state(market: Market, users) -> dict:
    accounts = {
        (account.user_id, account.currency_id): (account.balance, account.held)
        for account in Account.objects.filter(currency__in=[market.base_id, market.quote_id])
    }
    return {
        "balances": [
            (accounts.get((user.pk, market.base_id)), accounts.get((user.pk, market.quote_id))) for user in users
        ],
        "fees": [
            Account.objects.get(kind="fee", currency_id=currency_id).balance
            for currency_id in (market.base_id, market.quote_id)
        ],
        "book": [
            (order.side, order.price, order.quantity - order.filled_quantity, order.user_id, order.reserved)
            for order in Order.objects.filter(market=market, status__in=["open", "partially_filled"]).order_by(
                "side", "price", "id"
            )
        ],
        "trades": list(
            Trade.objects.filter(market=market)
            .order_by("id")
            .values_list("price", "quantity", "quote_amount", "buyer_id", "seller_id", "buyer_fee", "seller_fee")
        ),
        "levels": sorted(BookLevel.objects.filter(market=market).values_list("side", "price", "quantity")),
        "sequence": Market.objects.get(pk=market.pk).sequence,
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_places_every_order_as_order_place_would(twins, people, seed, monkeypatch):
    batched, alone = twins
    monkeypatch.setattr(batches, "place_alone", not_order_by_order)
    rng = random.Random(seed)
    serial = 0
    for _ in range(25):
        size = rng.choice([2, 3, 5, 8, 16, 40])
        placements = []
        for _ in range(size):
            serial += 1
            placements.append(Placement(user_id=rng.choice(people).pk, request=random_request(rng, serial)))
        results = orders_place_batch(market_id=batched.pk, placements=placements)
        expected = []
        for placement in placements:
            try:
                expected.append(
                    markets.order_place(
                        user=User(pk=placement.user_id), market_id=alone.pk, request=twin(placement.request)
                    )
                )
            except DomainError as error:
                expected.append(error)
        # Each order as the end of the batch left it: a batch's order may be filled by a later one in it.
        assert [outcome(result) for result in results] == [outcome(final(result)) for result in results]
        assert [outcome(result) for result in results] == [outcome(final(result)) for result in expected]
        assert state(batched, people) == state(alone, people)
    assert Trade.objects.filter(market=batched).count() > 50  # the stream did trade, across batches and within
    assert_audit_passes()


@pytest.fixture
def twin_pairs(alice):
    """Two pairs of markets sharing a quote currency, alike in every way but their currencies: (batched markets,
    their one-by-one twins), each in key order."""
    pairs = []
    for bases, quote_code in ((("GOLD", "PLAT"), "BUCK"), (("SILV", "COPR"), "DOLR")):
        quote = make_currency(alice, quote_code, decimals=2)
        pairs.append(
            [
                markets.market_create(user=alice, base=make_currency(alice, code, decimals=3), quote=quote, **FEES)
                for code in bases
            ]
        )
    return pairs


def test_a_batch_of_several_markets_places_every_order_as_order_place_would(twin_pairs, monkeypatch):
    """The markets' orders share their owners' quote funds: an order in one market sees what an earlier one in
    the other did to them."""
    batched, alone = twin_pairs
    people = [make_user(f"trader{n}") for n in range(5)]
    for index, user in enumerate(people):
        for market in (*batched, *alone):
            fund(user, market.base, 50_000 if index < 3 else 1_500)
        for quote in (batched[0].quote, alone[0].quote):
            fund(user, quote, 2_000_000 if index < 3 else 30_000)
    monkeypatch.setattr(batches, "place_alone", not_order_by_order)
    rng = random.Random(7)
    serial = 0
    for _ in range(20):
        sizes = [rng.choice([0, 1, 3, 8, 20]) for _ in batched]
        sizes[0] = max(sizes[0], 2 - sizes[1])  # one order alone is order_place's, not the batch's
        placements = {}
        for market, size in zip(batched, sizes, strict=True):
            placements[market.pk] = []
            for _ in range(size):
                serial += 1
                placements[market.pk].append(Placement(rng.choice(people).pk, random_request(rng, serial)))
        results = batches.orders_place_batches(placements)
        expected = {}
        for market, twin_market in zip(batched, alone, strict=True):  # market by market, as the batch does
            expected[market.pk] = []
            for placement in placements[market.pk]:
                try:
                    expected[market.pk].append(
                        markets.order_place(
                            user=User(pk=placement.user_id), market_id=twin_market.pk, request=twin(placement.request)
                        )
                    )
                except DomainError as error:
                    expected[market.pk].append(error)
        for market, twin_market in zip(batched, alone, strict=True):
            got = results[market.pk]
            assert [outcome(result) for result in got] == [outcome(final(result)) for result in got]
            assert [outcome(result) for result in got] == [outcome(final(result)) for result in expected[market.pk]]
            assert state(market, people) == state(twin_market, people)
    assert Trade.objects.filter(market__in=batched).count() > 50
    assert_audit_passes()


def drain_before_the_lock(monkeypatch, **transfer):
    """Between the batch's unlocked read of its takers' accounts and its lock of them, commit a transfer from
    another connection: a funds decision the batch made on the read no longer holds on the locked row."""
    lock_and_draw = batches._lock_accounts_and_draw_keys

    def transfer_first(batch):
        run_together([lambda: ledger.transfer_create(**transfer)])
        monkeypatch.setattr(batches, "_lock_accounts_and_draw_keys", lock_and_draw)
        return lock_and_draw(batch)

    monkeypatch.setattr(batches, "_lock_accounts_and_draw_keys", transfer_first)


@pytest.mark.django_db(transaction=True)
def test_a_decision_the_locked_rows_overturn_is_settled_again(gold_buck, traders, carol, monkeypatch):
    buyer, seller = traders
    monkeypatch.setattr(batches, "place_alone", not_order_by_order)
    drain_before_the_lock(monkeypatch, sender=buyer, recipient=carol, currency=gold_buck.quote, amount=999_000)
    bid = Placement(user_id=buyer.pk, request=OrderRequest(side="buy", type="limit", quantity=1_000, price=2_000))
    ask = Placement(user_id=seller.pk, request=OrderRequest(side="sell", type="limit", quantity=1_000, price=2_100))
    refused, resting = orders_place_batch(market_id=gold_buck.pk, placements=[bid, ask])
    assert isinstance(refused, InsufficientFunds)
    assert (Order.objects.get().pk, resting.status) == (resting.pk, "open")
    assert (account(buyer, gold_buck.quote).balance, account(buyer, gold_buck.quote).held) == (1_000, 0)
    assert_audit_passes()


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_second_settlement_meets_an_unlocked_maker_is_placed_order_by_order(
    gold_buck, traders, carol, monkeypatch
):
    seller, buyer = traders
    maker = make_user("maker")
    fund(maker, gold_buck.base, 1_000)
    standing = place(maker, gold_buck, "sell", quantity=1_000, price=2_100)
    alone = []
    monkeypatch.setattr(batches, "place_alone", lambda *args: alone.append(args) or place_alone(*args))
    # In the batch as read, the buy matches the seller's cheaper ask; once the seller's GOLD is gone, the maker's.
    drain_before_the_lock(monkeypatch, sender=seller, recipient=carol, currency=gold_buck.base, amount=99_500)
    ask = Placement(user_id=seller.pk, request=OrderRequest(side="sell", type="limit", quantity=1_000, price=2_000))
    bid = Placement(user_id=buyer.pk, request=OrderRequest(side="buy", type="limit", quantity=1_000, price=2_100))
    refused, filled = orders_place_batch(market_id=gold_buck.pk, placements=[ask, bid])
    assert len(alone) == 2
    assert isinstance(refused, InsufficientFunds)
    assert (filled.status, filled.filled_quote) == ("filled", 2_100)
    assert Trade.objects.get().maker_order_id == standing.pk
    assert account(maker, gold_buck.quote).balance == 2_100
    assert_audit_passes()


@pytest.mark.django_db(transaction=True)
def test_a_client_order_id_taken_in_another_market_meanwhile_sends_the_batch_order_by_order(
    gold_buck, traders, alice, monkeypatch
):
    """The batch looked the client order id up under its market's lock; an order in another market takes it before
    the batch writes. The batch's insert fails in the database (the COMMIT sent with it never runs), and its orders
    are placed one by one: that one is refused, the others placed."""
    seller, buyer = traders
    hour = make_currency(alice, "HOUR", decimals=1)
    hour_buck = markets.market_create(user=alice, base=hour, quote=gold_buck.quote)
    fund(seller, hour, 10_000)
    lock_and_draw = batches._lock_accounts_and_draw_keys
    elsewhere = []

    def taken_first(batch):
        elsewhere.extend(run_together([lambda: place(seller, hour_buck, "sell", quantity=10, price=3_000,
                                                      client_order_id="bot-1")]))
        monkeypatch.setattr(batches, "_lock_accounts_and_draw_keys", lock_and_draw)
        return lock_and_draw(batch)

    monkeypatch.setattr(batches, "_lock_accounts_and_draw_keys", taken_first)
    alone = []
    monkeypatch.setattr(batches, "place_alone", lambda *args: alone.append(args) or place_alone(*args))
    ask = Placement(
        user_id=seller.pk,
        request=OrderRequest(side="sell", type="limit", quantity=1_000, price=2_100, client_order_id="bot-1"),
    )
    bid = Placement(user_id=buyer.pk, request=OrderRequest(side="buy", type="limit", quantity=1_000, price=2_000))
    refused, resting = orders_place_batch(market_id=gold_buck.pk, placements=[ask, bid])
    [taken] = elsewhere
    assert len(alone) == 2
    assert isinstance(refused, IdempotencyConflict)
    assert (resting.status, resting.side) == ("open", "buy")
    assert list(Order.objects.filter(user=seller, client_order_id="bot-1")) == [taken]
    assert list(Order.objects.filter(market=gold_buck)) == [resting]
    assert_audit_passes()


def test_the_first_round_trip_reads_only_the_sides_the_batch_meets(gold_buck, traders):
    seller, buyer = traders
    place(seller, gold_buck, "sell", quantity=1_000, price=2_100)
    place(buyer, gold_buck, "buy", quantity=1_000, price=1_900)
    buys = [
        Placement(user_id=buyer.pk, request=OrderRequest(side="buy", type="limit", quantity=100, price=p))
        for p in (2_000, 2_100)
    ]
    reading = batches._Reading.read({gold_buck.pk: buys})
    asks_read = [
        [(order_id, price) for order_id, _, price, *_ in page]
        for page in reading.snapshots[gold_buck.pk].pages[matching.Side.SELL]
    ]
    assert asks_read == [[(Order.objects.get(side="sell").pk, 2_100)]]
    assert reading.snapshots[gold_buck.pk].pages[matching.Side.BUY] == []  # no order of the batch sells


def test_a_book_side_left_unread_is_read_when_the_engine_reaches_it(gold_buck, traders):
    seller, _ = traders
    for price in (2_200, 2_100, 2_100):
        place(seller, gold_buck, "sell", quantity=1_000, price=price)
    side = batches._BookSide(gold_buck.pk, matching.Side.SELL, [], {})
    asks = Order.objects.filter(side="sell").order_by("price", "id")
    assert [(resting.order_id, resting.price) for resting in side.resting()] == [(o.pk, o.price) for o in asks]
    assert side.rows.keys() == {order.pk for order in asks}
