"""Rate limits per API key (or session user) and per client address, with X-RateLimit-* headers.

Rates come from settings.API_RATE_LIMITS, read on every request so tests and benchmarks can raise them. Counts
live in the default cache: per process with locmem, shared by every process when CACHE_URL points at Redis.

The rule is DRF's SimpleRateThrottle (a sliding log of request times per key), but `throttle_waits` checks all of a
view's throttles with one cache read and one write, where DRF reads and writes once per throttle: each is a
round trip to Redis on every request.
"""

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import SimpleRateThrottle

from api.authentication import client_ip
from api.models import ApiKey


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
        """DRF's rule on the key's history; on success the history to store is self.history."""
        self.history, self.now = history, self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        allowed = len(self.history) < self.num_requests
        if allowed:
            self.history.insert(0, self.now)
        if self.num_requests:
            remaining = max(0, self.num_requests - len(self.history))
            current = getattr(request, "rate_limit", None)
            if current is None or remaining < current[1]:
                request.rate_limit = (self.num_requests, remaining)
        return allowed

    def allow_request(self, request, view):
        return not throttle_waits([self], request, view)


def throttle_waits(throttles: list, request, view) -> list:
    """What DRF's check_throttles collects: the wait() of each throttle that refuses the request, in order.

    Every throttle counts the request, as under DRF, even when an earlier one refused it."""
    ours = [throttle for throttle in throttles if isinstance(throttle, _Throttle)]
    keys = [key for throttle in ours if (key := throttle.start(request, view)) is not None]
    histories = cache.get_many(keys) if keys else {}
    waits, writes = [], {}
    for throttle in throttles:
        if not isinstance(throttle, _Throttle):
            if not throttle.allow_request(request, view):
                waits.append(throttle.wait())
        elif throttle.key is not None:
            if throttle.decide(request, histories.get(throttle.key, [])):
                writes.setdefault(throttle.duration, {})[throttle.key] = throttle.history
            else:
                waits.append(throttle.wait())
    for duration, values in writes.items():
        cache.set_many(values, duration)
    return waits


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
