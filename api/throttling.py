"""Rate limits per API key (or session user) and per client address, with X-RateLimit-* headers.

Rates come from settings.API_RATE_LIMITS, read on every request so tests and benchmarks can raise them. Counts
live in the default cache: per process with locmem, shared by every process when CACHE_URL points at Redis.

The rule is DRF's SimpleRateThrottle: a sliding log of request times per key. `throttle_waits` checks all of a
view's throttles together, where DRF reads and writes once per throttle, each a round trip to Redis.
- On Redis each log is a sorted set, and one script trims, counts and appends for every throttle of the request
  at once: one round trip, and atomic, so concurrent requests in several processes are all counted. (Reading
  each log whole and writing it back lost a count whenever two requests of one key overlapped, and pickled the
  log, up to thousands of times, both ways on every request.)
- In the per-process memory cache the logs are lists, read once and written once.
"""

import secrets

from django.conf import settings
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from api.authentication import client_ip
from api.models import ApiKey
from exchange.cache import RedisCache

# KEYS: the logs. ARGV: now, a member unique to this request, then each log's window (s) and limit.
# Per log, the answer is {allowed (0/1), requests in the window (counting this one if allowed), oldest time}.
COUNT_SCRIPT = """
local now = tonumber(ARGV[1])
local answers = {}
for i, key in ipairs(KEYS) do
    local window, limit = tonumber(ARGV[2 * i + 1]), tonumber(ARGV[2 * i + 2])
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
    local count = redis.call('ZCARD', key)
    local allowed = 0
    if count < limit then
        redis.call('ZADD', key, ARGV[1], ARGV[2])
        count, allowed = count + 1, 1
    end
    redis.call('EXPIRE', key, window)
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2] or false
    answers[i] = {allowed, count, oldest}
end
return answers
"""


class _Throttle(SimpleRateThrottle):
    def __init__(self):  # the rate is read per request, not at import (see get_rate)
        pass

    def get_rate(self):
        return settings.API_RATE_LIMITS.get(self.scope)

    def start(self, request, view) -> str | None:
        """The cache key this request counts under, or None if this throttle does not apply."""
        self.key = None
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return None
        self.key = self.get_cache_key(request, view)
        return self.key

    def decide(self, request, history: list) -> bool:
        """DRF's rule on the key's history (a list, newest first); on success the history to store is
        self.history."""
        self.history, self.now = history, self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        allowed = len(self.history) < self.num_requests
        if allowed:
            self.history.insert(0, self.now)
        return self.outcome(request, allowed, len(self.history), self.history[-1] if self.history else None)

    def outcome(self, request, allowed: bool, count: int, oldest: float | None) -> bool:
        """Note what the log says: requests in the window (this one included if allowed) and the oldest time."""
        self.allowed, self.count, self.oldest = allowed, count, oldest
        if self.num_requests:
            remaining = max(0, self.num_requests - count)
            current = getattr(request, "rate_limit", None)
            if current is None or remaining < current[1]:
                request.rate_limit = (self.num_requests, remaining)
        return allowed

    def wait(self):
        """DRF's SimpleRateThrottle.wait, from the count and the oldest time."""
        remaining_duration = self.duration if self.oldest is None else self.duration - (self.now - self.oldest)
        available_requests = self.num_requests - self.count + 1
        return None if available_requests <= 0 else remaining_duration / available_requests

    def allow_request(self, request, view):
        return not throttle_waits([self], request, view)


def throttle_waits(throttles: list, request, view) -> list:
    """What DRF's check_throttles collects: the wait() of each throttle that refuses the request, in order.

    Every throttle counts the request, as under DRF, even when an earlier one refused it."""
    ours = [throttle for throttle in throttles if isinstance(throttle, _Throttle)]
    counted = [throttle for throttle in ours if throttle.start(request, view) is not None]
    store = caches["default"]
    if counted:
        if isinstance(store, RedisCache):
            _count_in_redis(store, counted, request)
        else:
            _count_in_lists(store, counted, request)
    waits = []
    for throttle in throttles:
        if not isinstance(throttle, _Throttle):
            if not throttle.allow_request(request, view):
                waits.append(throttle.wait())
        elif throttle.key is not None and not throttle.allowed:
            waits.append(throttle.wait())
    return waits


def _count_in_redis(store: RedisCache, throttles: list, request) -> None:
    now = throttles[0].timer()
    keys = [store.make_and_validate_key(f"throttle-log:{throttle.key}") for throttle in throttles]
    arguments = [repr(now), secrets.token_hex(8)]
    for throttle in throttles:
        arguments += [throttle.duration, throttle.num_requests]
    answers = store.script(COUNT_SCRIPT)(keys=keys, args=arguments)
    for throttle, (allowed, count, oldest) in zip(throttles, answers, strict=True):
        throttle.now = now
        throttle.outcome(request, bool(allowed), count, float(oldest) if oldest else None)


def _count_in_lists(store, throttles: list, request) -> None:
    histories = store.get_many([throttle.key for throttle in throttles])
    writes = {}
    for throttle in throttles:
        if throttle.decide(request, histories.get(throttle.key, [])):
            writes.setdefault(throttle.duration, {})[throttle.key] = throttle.history
    for duration, values in writes.items():
        store.set_many(values, duration)


class KeyRateThrottle(_Throttle):
    """Per API key; a browser session counts as one key of its user."""

    scope = "key"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            return f"throttle:key:{request.auth.pk}"
        if request.user and request.user.is_authenticated:
            return f"throttle:user:{request.user.pk}"
        return None


class IpRateThrottle(_Throttle):
    """Per client address, for every request (anonymous or not)."""

    scope = "ip"

    def get_cache_key(self, request, view):
        return f"throttle:ip:{client_ip(request)}"
