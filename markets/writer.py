"""Order writers: each market's orders queue in Redis, and one process takes them in batches.

A writer (`manage.py run_order_writer`) serves a share of the markets. It pops what has queued in any of them, up
to MAX_BATCH orders, places them in one transaction (markets/batch.py) and, once that has committed, answers each
submitter. Under load the batch grows by itself: orders arriving while one batch commits make up the next. Few
round trips and one commit per batch is what lets a market take more orders per second than one transaction per
order allows (bench/place_orders.py measures both), and it ends the lock convoy of many processes queueing on one
market row. Taking several markets' orders together is what lets a writer of many quiet markets batch at all.

Correctness never rests on the writer: a batch locks the market row like order_place, so a writer, order_place,
cancels and the audit's halts can run side by side. order_submit therefore places an order itself, directly,
whenever no writer serves its market (none started, e.g. `make run` on SQLite), and when a writer has not taken
the order within WAIT_SECONDS (it takes the order back off the queue first, so it is placed exactly once).

It also places an order directly while the market's writer is idle, since the writer would only add a Redis hop
to a lone order: it tries the market row without waiting (NOWAIT). Finding it locked, by a batch or by an order
placed so, means the writer is busy: the order queues, and the process queues everything for that writer for
BUSY_SECONDS, so batches form (across that writer's markets too) and no failed try costs a round trip meanwhile.

Failure: a writer that dies after taking a batch and before answering leaves its submitters not knowing whether
the batch committed. They answer 503 `order_status_unknown`; a client that set a client order id finds out by
placing it again (idempotent) or by listing its orders.
"""

import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime

import redis
from django.conf import settings
from django.contrib.auth.models import User
from django.db import close_old_connections, connection

from exchange.db import from_rows
from exchange.errors import DomainError
from markets.batch import Placement, orders_place_batches, place_alone
from markets.models import Market, Order
from markets.services import OrderRequest, order_place
from markets.store import MarketBusy

log = logging.getLogger(__name__)

MAX_BATCH = 64
WAIT_SECONDS = 5.0  # for a writer to take an order off the queue
ANSWER_SECONDS = 30.0  # for the answer once it has: a batch commits in milliseconds; this is a writer that died
ALIVE_SECONDS = 3  # a writer renews its markets' marks every second; a mark this old means it is gone
BUSY_SECONDS = 1.0  # after finding a writer busy, queue for it this long before trying directly again
DRAIN_SECONDS = 1.5  # a stopping writer serves this long after taking its marks away (submitters cache them 1 s)
REPLY_TTL = 60
ORDER_FIELDS = [field.attname for field in Order._meta.concrete_fields]
DATETIMES = {"created_at", "updated_at"}


class OrderStatusUnknown(DomainError):
    code = "order_status_unknown"
    status = 503
    default_message = (
        "The order reached the market's writer, which did not answer: it may or may not have been placed. "
        "Place it again with the same client order id, or list your orders, to find out."
    )


def _namespace() -> str:
    """Keys name the database too: exchanges (a test run, a benchmark) sharing one Redis must not take each other's
    orders."""
    return f"exchange:{connection.settings_dict['NAME']}"


def queue_key(market_id: int) -> str:
    return f"{_namespace()}:orders:{market_id}"


def alive_key(market_id: int) -> str:
    return f"{_namespace()}:order-writer:{market_id}"


def reply_key(request_id: str) -> str:
    return f"exchange:order-reply:{request_id}"


_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    # redis-py's default socket timeout (5 s) would cut the waits for answers short: BLPOP waits up to
    # WAIT_SECONDS, then ANSWER_SECONDS, on the server.
    return redis.Redis.from_url(url, socket_timeout=WAIT_SECONDS + ANSWER_SECONDS + 5)


def _redis() -> redis.Redis | None:
    url = settings.ORDER_WRITER_REDIS_URL
    if not url:
        return None
    if url not in _clients:
        _clients[url] = _client(url)
    return _clients[url]


# --- submitting -------------------------------------------------------------------------------------------------

_writers: dict[int, tuple[bytes | None, float]] = {}  # market -> (the writer serving it, when last asked)
_busy_until: dict[bytes, float] = {}  # writer -> until when this process queues for it without trying directly


def _writer_of(client: redis.Redis, market_id: int) -> bytes | None:
    """Which writer serves the market, if any (asked of Redis at most once a second per process and market)."""
    now = time.monotonic()
    cached = _writers.get(market_id)
    if cached and now - cached[1] < 1.0:
        return cached[0]
    try:
        writer = client.get(alive_key(market_id))
    except redis.RedisError:  # no Redis, no writer can take the order: it is placed directly
        log.warning("Redis did not answer; orders of market %s are placed directly", market_id)
        writer = None
    _writers[market_id] = (writer, now)
    return writer


def order_submit(*, user: User, market_id: int, request: OrderRequest) -> Order:
    """Place an order directly while its writer is idle, else through the writer, and directly if no writer serves
    its market; either way all or nothing."""
    client = _redis()
    writer = None if client is None or connection.in_atomic_block else _writer_of(client, market_id)
    if writer is None:
        return order_place(user=user, market_id=market_id, request=request)
    if time.monotonic() >= _busy_until.get(writer, 0.0):
        # While the writer is idle it would only add a hop. Finding a market row of its locked (by a batch, or an
        # order placed so) means it is busy: queue for all its markets a while, so batches form (across markets
        # too), and no direct try pays its failed round trip meanwhile.
        try:
            return order_place(user=user, market_id=market_id, request=request, wait=False)
        except MarketBusy:
            _busy_until[writer] = time.monotonic() + BUSY_SECONDS
    request_id = uuid.uuid4().hex
    message = json.dumps({"id": request_id, "user_id": user.pk, "request": asdict(request)})
    try:
        answer = _through_writer(client, market_id, request_id, message)
    except redis.RedisError:  # the order may have reached the queue, so placing it here could place it twice
        log.exception("Redis failed under an order of market %s", market_id)
        _writers.pop(market_id, None)
        raise OrderStatusUnknown() from None
    if answer is None:  # not taken by the writer, and taken back: place it here, once
        _writers.pop(market_id, None)
        log.warning("no order writer took an order of market %s within %s s", market_id, WAIT_SECONDS)
        return order_place(user=user, market_id=market_id, request=request)
    return _decode_result(json.loads(answer))


def _through_writer(client: redis.Redis, market_id: int, request_id: str, message: str) -> bytes | None:
    """Queue the order and wait for the writer's answer; None if no writer took it within WAIT_SECONDS (it is off
    the queue then)."""
    client.rpush(queue_key(market_id), message)
    answer = client.blpop([reply_key(request_id)], timeout=WAIT_SECONDS)
    if answer is None:
        if client.lrem(queue_key(market_id), 1, message):
            return None
        answer = client.blpop([reply_key(request_id)], timeout=ANSWER_SECONDS)
        if answer is None:
            raise OrderStatusUnknown()
    return answer[1]


def _encode_result(result: Order | DomainError) -> str:
    if isinstance(result, DomainError):
        return json.dumps({"error": {"status": result.status, "code": result.code, **result.as_dict()["error"]}})
    values = {name: getattr(result, name) for name in ORDER_FIELDS}
    for name in DATETIMES:
        values[name] = values[name].isoformat()
    return json.dumps({"order": values})


def _decode_result(answer: dict) -> Order:
    if "error" in answer:
        raise _error_from(answer["error"])
    values = answer["order"]
    for name in DATETIMES:
        values[name] = datetime.fromisoformat(values[name])
    [order] = from_rows(Order, ORDER_FIELDS, [[values[name] for name in ORDER_FIELDS]])
    return order


def _error_from(error: dict) -> DomainError:
    """The writer's error as the same domain error class (so callers catch what order_place raises)."""
    for cls in _domain_errors(DomainError):
        if cls.code == error["code"] and cls.status == error["status"]:
            return cls(error["message"], fields=error.get("fields"))
    unknown = DomainError(error["message"], fields=error.get("fields"))
    unknown.code, unknown.status = error["code"], error["status"]
    return unknown


def _domain_errors(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _domain_errors(sub)


# --- the writer -------------------------------------------------------------------------------------------------


class Writer:
    """Serves the markets whose key modulo `shards` is `shard`, until `stop` is set."""

    def __init__(self, *, shard: int = 0, shards: int = 1, stop: threading.Event | None = None):
        self.shard, self.shards = shard, shards
        self.stop = stop or threading.Event()
        self.client = _client(settings.ORDER_WRITER_REDIS_URL)
        self.market_ids: list[int] = []
        self.marked_at = 0.0
        self.batches = self.orders = 0
        self.identity = uuid.uuid4().hex  # what its markets' marks hold
        self._take = self.client.register_script(TAKE_SCRIPT)

    def run(self) -> None:
        log.info("order writer %s/%s starting (pid %s)", self.shard, self.shards, os.getpid())
        try:
            while not self.stop.is_set():
                try:
                    self._mark_alive()
                    if self.market_ids:
                        self._serve_once()
                    else:
                        self.stop.wait(0.5)
                except Exception:  # Redis or the database went away, say: its marks lapse, orders are placed directly
                    log.exception("order writer %s/%s failed; trying again", self.shard, self.shards)
                    self.marked_at = 0.0
                    self.stop.wait(1.0)
        finally:
            self._drain()

    def _drain(self) -> None:
        """Take the marks away, then serve what submitters queued while they still saw them (they cache a mark
        for a second), so stopping a writer delays no order by WAIT_SECONDS."""
        with contextlib.suppress(redis.RedisError):
            if self.market_ids:
                self.client.delete(*(alive_key(market_id) for market_id in self.market_ids))
            until = time.monotonic() + DRAIN_SECONDS
            while self.market_ids and time.monotonic() < until:
                self._serve_once(timeout=0.1)

    def _mark_alive(self) -> None:
        """Once a second: find this writer's markets (new ones included) and renew their marks."""
        now = time.monotonic()
        if now - self.marked_at < 1.0:
            return
        close_old_connections()
        self.market_ids = [
            market_id
            for market_id in Market.objects.order_by("pk").values_list("pk", flat=True)
            if market_id % self.shards == self.shard
        ]
        with self.client.pipeline(transaction=False) as pipe:
            for market_id in self.market_ids:
                pipe.set(alive_key(market_id), self.identity, ex=ALIVE_SECONDS)
            pipe.execute()
        self.marked_at = now

    def _serve_once(self, timeout: float = 1) -> None:
        # Turn the list round each time, so a busy market cannot starve the others (BLPOP takes the first non-empty).
        turn = self.batches % len(self.market_ids)
        keys = [queue_key(market_id) for market_id in self.market_ids[turn:] + self.market_ids[:turn]]
        popped = self.client.blpop(keys, timeout=timeout)
        if popped is None:
            return
        key, first = popped
        # What else has queued in any of its markets, up to MAX_BATCH in all: a writer serving many quiet markets
        # batches them together.
        keys.remove(key.decode())
        rest = self._take(keys=[key, *keys], args=[MAX_BATCH - 1])
        messages: dict[int, list[dict]] = defaultdict(list)
        for queue, message in [(key, first), *zip(rest[::2], rest[1::2])]:
            messages[int(queue.rsplit(b":", 1)[1])].append(json.loads(message))
        self.serve(messages)

    def serve(self, messages: dict[int, list[dict]]) -> None:
        """Place one batch (market key -> its queued orders) and answer each submitter (after the commit)."""
        batches = {
            market_id: [Placement(user_id=m["user_id"], request=OrderRequest(**m["request"])) for m in queued]
            for market_id, queued in messages.items()
        }
        # The connection stays from batch to batch: taking one from the pool costs a health-check round trip.
        # _mark_alive hands it back once a second, and a batch that fails is placed order by order on a fresh one.
        try:
            results = orders_place_batches(batches)
        except Exception:  # nothing of the batch was written: give each order its own chance
            log.exception("an order batch of markets %s failed; placing its orders one by one", sorted(batches))
            results = {
                market_id: [_place_alone_or_unavailable(market_id, placement) for placement in placements]
                for market_id, placements in batches.items()
            }
        self.batches += 1
        self.orders += sum(map(len, batches.values()))
        with self.client.pipeline(transaction=False) as pipe:
            for market_id, queued in messages.items():
                for message, result in zip(queued, results[market_id], strict=True):
                    pipe.rpush(reply_key(message["id"]), _encode_result(result))
                    pipe.expire(reply_key(message["id"]), REPLY_TTL)
            pipe.execute()


# Pop up to ARGV[1] orders from the queues KEYS, in their order; return queue, order, queue, order, ...
TAKE_SCRIPT = """
local budget = tonumber(ARGV[1])
local taken = {}
for _, key in ipairs(KEYS) do
    if budget <= 0 then break end
    local orders = redis.call('LPOP', key, budget)
    if orders then
        for _, order in ipairs(orders) do
            taken[#taken + 1] = key
            taken[#taken + 1] = order
        end
        budget = budget - #orders
    end
end
return taken
"""


def _place_alone_or_unavailable(market_id: int, placement: Placement) -> Order | DomainError:
    close_old_connections()
    try:
        return place_alone(market_id, placement)
    except Exception:  # the database went away, say: this order was rolled back
        log.exception("an order of market %s failed", market_id)
        return _Unavailable()


class _Unavailable(DomainError):
    code = "service_unavailable"
    status = 503
    default_message = "The market could not take the order just now; nothing was placed. Try again."
