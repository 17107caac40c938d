"""Order writers (markets/writer.py): orders submitted from many threads at once are placed in batches by a writer
running in a thread of its own; while the writer is idle, without a writer, or with one that does not take the
order, it is placed directly, exactly once. Tests of the queue itself use `busy`: every order goes through it."""

import json
import threading
import time

import pytest
import redis
from django.conf import settings
from django.db import connections, transaction

from exchange.errors import InsufficientFunds, MarketHalted
from markets import services as markets
from markets import writer as writers
from markets.models import Market, Order, Trade
from markets.services import OrderRequest
from markets.writer import OrderStatusUnknown, Writer, alive_key, order_submit, queue_key
from tests.api.conftest import Bot
from tests.concurrency import run_together
from tests.conftest import fund, make_currency, make_user
from tests.helpers import assert_audit_passes, exchange_state
from tests.markets.conftest import account

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def client():
    assert settings.ORDER_WRITER_REDIS_URL, "the writer tests need REDIS_URL"
    return redis.Redis.from_url(settings.ORDER_WRITER_REDIS_URL)


@pytest.fixture(autouse=True)
def _no_leftovers(client, monkeypatch):
    """Each test starts with no cached liveness and no queued orders or marks of an earlier test's markets."""
    monkeypatch.setattr(writers, "_writers", {})
    monkeypatch.setattr(writers, "_busy_until", {})
    yield
    leftovers = list(client.scan_iter(f"{writers._namespace()}:*"))
    if leftovers:
        client.delete(*leftovers)


@pytest.fixture
def running_writer(gold_buck, client, monkeypatch):
    """A writer serving every market, in a thread, until the test ends."""
    monkeypatch.setattr(writers, "DRAIN_SECONDS", 0.5)
    stop = threading.Event()
    writer = Writer(stop=stop)

    def serve():
        try:
            writer.run()
        finally:
            connections.close_all()

    thread = threading.Thread(target=serve)
    thread.start()
    deadline = time.monotonic() + 10
    while not client.exists(alive_key(gold_buck.pk)):
        assert time.monotonic() < deadline and thread.is_alive(), "the writer did not start"
        time.sleep(0.05)
    yield writer
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert not client.exists(alive_key(gold_buck.pk)), "a writer that stops takes its marks away"


@pytest.fixture
def busy(monkeypatch):
    """Every writer counts as busy: orders go through its queue, never directly."""

    class Always(dict):
        def get(self, writer, default=None):
            return float("inf")

    monkeypatch.setattr(writers, "_busy_until", Always())


def submit(user, market, side, quantity, price, **options) -> Order:
    request = OrderRequest(side=side, type="limit", quantity=quantity, price=price, **options)
    return order_submit(user=user, market_id=market.pk, request=request)


def test_orders_submitted_at_once_are_placed_in_batches(running_writer, gold_buck, alice, bob, client):
    """Two markets sharing the quote currency: batches take orders of both."""
    plat = markets.market_create(user=alice, base=make_currency(bob, "PLAT", decimals=3), quote=gold_buck.quote)
    deadline = time.monotonic() + 10
    while not client.exists(alive_key(plat.pk)):  # the writer finds new markets within a second
        assert time.monotonic() < deadline, "the writer did not take up the new market"
        time.sleep(0.05)
    people = [make_user(f"trader{n}") for n in range(8)]
    for person in people:
        for market in (gold_buck, plat):
            fund(person, market.base, 100_000)
        fund(person, gold_buck.quote, 10_000_000)

    def trade(index: int):
        placed = []
        for n in range(15):
            side = "buy" if (index + n) % 2 else "sell"
            price = 2_000 + ((index * 7 + n * 3) % 9 - 4) * 10
            market = (gold_buck, plat)[(index + n // 2) % 2]
            placed.append(submit(people[index], market, side, 100 * (1 + n % 3), price, client_order_id=f"o{n}"))
        return placed

    results = run_together([lambda index=index: trade(index) for index in range(len(people))])
    assert all(isinstance(placed, list) for placed in results), results
    # Those that found the writer idle went directly; the rest queued, and shared batches.
    assert running_writer.batches < running_writer.orders <= 8 * 15, "no two orders shared a batch"
    for index, placed in enumerate(results):
        for n, order in enumerate(placed):
            stored = Order.objects.get(pk=order.pk)
            assert (stored.user_id, stored.client_order_id) == (people[index].pk, f"o{n}")
            assert (order.side, order.price, order.quantity) == (stored.side, stored.price, stored.quantity)
            assert order.filled_quantity <= stored.filled_quantity  # later batches may have filled it further
    assert Order.objects.count() == 8 * 15
    assert set(Trade.objects.values_list("market_id", flat=True)) == {gold_buck.pk, plat.pk}
    assert_audit_passes()


def test_a_refused_order_raises_what_order_place_raises_and_changes_nothing(
    running_writer, busy, gold_buck, traders, alice
):
    poor = make_user("poor")
    fund(poor, gold_buck.quote, 100)
    before = exchange_state()
    with pytest.raises(InsufficientFunds) as refused:
        submit(poor, gold_buck, "buy", 1_000, 2_000)
    assert (refused.value.status, refused.value.code) == (409, "insufficient_funds")
    assert exchange_state() == before
    alice.is_staff = True
    markets.market_set_status(user=alice, market=gold_buck, halted=True, reason="maintenance")
    with pytest.raises(MarketHalted):
        submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert running_writer.orders == 2


def test_with_no_writer_an_order_is_placed_directly(gold_buck, traders, monkeypatch):
    def no_queueing(*args, **kwargs):
        raise AssertionError("an order was queued for a writer that is not there")

    monkeypatch.setattr(redis.Redis, "rpush", no_queueing)
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert Order.objects.get().pk == order.pk
    assert account(traders[0], gold_buck.quote).held == 2_000


def test_an_order_no_writer_takes_is_taken_back_and_placed_once(busy, gold_buck, traders, client):
    """After the whole WAIT_SECONDS (redis-py's default socket timeout, as long, once cut this wait short)."""
    client.set(alive_key(gold_buck.pk), "a writer that hangs", ex=30)
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert client.llen(queue_key(gold_buck.pk)) == 0
    assert list(Order.objects.values_list("pk", flat=True)) == [order.pk]
    assert_audit_passes()


def test_an_order_a_writer_takes_and_never_answers_has_an_unknown_status(busy, gold_buck, traders, client, monkeypatch):
    monkeypatch.setattr(writers, "WAIT_SECONDS", 2.0)  # ample for the thief below to take the order
    monkeypatch.setattr(writers, "ANSWER_SECONDS", 0.3)
    client.set(alive_key(gold_buck.pk), "a writer that dies", ex=30)
    taken = []
    thief = threading.Thread(target=lambda: taken.append(client.blpop([queue_key(gold_buck.pk)], timeout=5)))
    thief.start()
    with pytest.raises(OrderStatusUnknown) as unknown:
        submit(traders[0], gold_buck, "buy", 1_000, 2_000, client_order_id="lost")
    thief.join()
    assert (unknown.value.status, unknown.value.code) == (503, "order_status_unknown")
    assert json.loads(taken[0][1])["request"]["client_order_id"] == "lost"
    assert not Order.objects.exists()


def test_a_batch_that_fails_is_placed_order_by_order(busy, running_writer, gold_buck, traders, monkeypatch):
    def broken(batches):
        raise RuntimeError("a bug in the batch")

    monkeypatch.setattr(writers, "orders_place_batches", broken)
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert Order.objects.get().pk == order.pk
    assert_audit_passes()


def test_a_writer_whose_database_connection_was_cut_places_the_next_order(
    busy, running_writer, gold_buck, traders, monkeypatch
):
    # The writer keeps its connection from batch to batch; a database restart in between costs that batch a try.
    backends, place_batches = [], writers.orders_place_batches

    def recording(batches):
        results = place_batches(batches)
        backends.append(connections["default"].connection.info.backend_pid)  # in the writer's thread
        return results

    monkeypatch.setattr(writers, "orders_place_batches", recording)
    submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [backends[-1]])
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert Order.objects.filter(pk=order.pk).exists()
    assert running_writer.orders == 2
    assert_audit_passes()


def test_the_rest_api_places_orders_through_the_writer(busy, running_writer, gold_buck, traders):
    bot = Bot(traders[0])
    order = {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "20.00"}
    first = bot.post("/api/v1/orders", order | {"client_order_id": "rest-1"})
    again = bot.post("/api/v1/orders", order | {"client_order_id": "rest-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["status"] == "open" and again.json() == first.json()
    poor = bot.post("/api/v1/orders", order | {"quantity": "99999.000"})
    assert (poor.status_code, poor.json()["error"]["code"]) == (409, "insufficient_funds")
    assert running_writer.orders == 3
    assert Order.objects.count() == 1


def test_with_redis_down_an_order_is_placed_directly(gold_buck, traders, settings):
    settings.ORDER_WRITER_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert Order.objects.get().pk == order.pk


def test_a_writer_outlives_a_redis_failure(busy, running_writer, gold_buck, traders, monkeypatch):
    blpop, failures = running_writer.client.blpop, []

    def fails_once(*args, **kwargs):
        if not failures:
            failures.append(True)
            raise redis.ConnectionError("Redis went away")
        return blpop(*args, **kwargs)

    monkeypatch.setattr(running_writer.client, "blpop", fails_once)
    time.sleep(1.5)  # the writer meets the failure, waits a second and serves again
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert failures and running_writer.orders == 1
    assert Order.objects.get().pk == order.pk


def test_redis_failing_under_a_queued_order_leaves_its_status_unknown(busy, gold_buck, traders, client, monkeypatch):
    """The order may have reached the queue: placing it directly too could place it twice."""
    client.set(alive_key(gold_buck.pk), "a writer", ex=30)

    def fails(*args, **kwargs):
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(redis.Redis, "blpop", fails)
    with pytest.raises(OrderStatusUnknown):
        submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert client.llen(queue_key(gold_buck.pk)) == 1
    assert not Order.objects.exists()


def test_a_stopping_writer_serves_what_was_queued_while_its_mark_was_still_seen(busy, running_writer, gold_buck, traders):
    submit(traders[0], gold_buck, "buy", 1_000, 2_000)  # this process now holds the mark for a second
    running_writer.stop.set()
    submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert running_writer.orders == 2, "the order waited out WAIT_SECONDS and was placed directly"
    assert Order.objects.count() == 2


def test_while_its_writer_is_idle_an_order_is_placed_directly(running_writer, gold_buck, traders):
    order = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    assert (running_writer.orders, Order.objects.get().pk) == (0, order.pk)


def test_an_order_that_finds_its_market_locked_goes_through_the_writer(running_writer, gold_buck, traders):
    """Locked by a batch or by an order placed directly: the writer is busy, so its orders queue for a while."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_market():
        try:
            with transaction.atomic():
                Market.objects.select_for_update().get(pk=gold_buck.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_market)
    holder.start()
    assert locked.wait(10)
    threading.Timer(0.3, release.set).start()  # the writer's batch waits for the lock, as order_place would
    first = submit(traders[0], gold_buck, "buy", 1_000, 2_000)
    holder.join()
    second = submit(traders[0], gold_buck, "buy", 1_000, 2_000)  # the writer still counts as busy
    assert running_writer.orders == 2
    assert sorted(Order.objects.values_list("pk", flat=True)) == sorted([first.pk, second.pk])
    assert_audit_passes()
