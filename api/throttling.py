"""Rate limits per API key (or session user) and per client address, with X-RateLimit-* headers.

Rates come from settings.API_RATE_LIMITS, read on every request so tests and benchmarks can raise them. Counts
live in the default cache: per process with locmem, shared by every process when CACHE_URL points at Redis.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from api.authentication import client_ip
from api.models import ApiKey


class _Throttle(SimpleRateThrottle):
    def __init__(self):  # the rate is read per request, not at import (see get_rate)
        pass

    def get_rate(self):
        return settings.API_RATE_LIMITS.get(self.scope)

    def allow_request(self, request, view):
        self.key = None
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        allowed = super().allow_request(request, view)
        if self.key is not None and self.num_requests:
            remaining = max(0, self.num_requests - len(self.history))
            current = getattr(request, "rate_limit", None)
            if current is None or remaining < current[1]:
                request.rate_limit = (self.num_requests, remaining)
        return allowed


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
