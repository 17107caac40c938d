"""API test helpers: a bot that signs its requests with an API key, over Django's test client."""

import json
import secrets
import time

import pytest
from django.core.cache import cache
from django.test import Client

from api import keys
from api.keys import signature_for
from markets import services as markets
from tests.conftest import fund, make_currency


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit counters and seen signatures must not leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def redis_cache(settings) -> str:
    """The shared Redis as the cache (where production keeps signatures and rate limits), under a key prefix of
    this test's own; returns the prefix."""
    assert settings.ORDER_WRITER_REDIS_URL, "this test needs REDIS_URL"
    prefix = f"test-{secrets.token_hex(6)}"
    settings.CACHES = {
        "default": {"BACKEND": "exchange.cache.RedisCache", "LOCATION": settings.ORDER_WRITER_REDIS_URL,
                    "KEY_PREFIX": prefix}
    }
    return prefix


class Bot:
    """Signs every request with its key, exactly as docs/api.md tells bot authors to."""

    def __init__(self, user, scopes=("read", "trade", "transfer", "issue"), **options):
        self.user = user
        self.key, self.secret = keys.key_create(user=user, name=f"{user.username} bot", scopes=list(scopes), **options)
        self.client = Client()

    def headers(self, method: str, path: str, body: bytes, *, timestamp: int | None = None) -> dict:
        stamp = str(timestamp if timestamp is not None else int(time.time() * 1000))
        signature = signature_for(secret=self.secret, timestamp=stamp, method=method, path=path, body=body)
        return {"X-API-Key": self.key.key_id, "X-API-Timestamp": stamp, "X-API-Signature": signature}

    def request(self, method: str, path: str, payload=None, *, headers=None, raw: bytes | None = None, **sign):
        body = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
        all_headers = self.headers(method, path, body, **sign) | (headers or {})
        return self.client.generic(method, path, body, content_type="application/json", headers=all_headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, payload=None, **kw):
        return self.request("POST", path, payload, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def make_bot():
    return Bot


@pytest.fixture
def market(alice, bob):
    """GOLD (3 decimals, bob's) / BUCK (2 decimals, alice's): lot 0.100 GOLD, tick 0.10 BUCK."""
    gold = make_currency(bob, "GOLD", decimals=3)
    buck = make_currency(alice, "BUCK", decimals=2)
    return markets.market_create(user=alice, base=gold, quote=buck)


@pytest.fixture
def funded(market, alice, bob, carol):
    """carol and alice hold 100 GOLD and 10,000 BUCK each."""
    for person in (alice, carol):
        fund(person, market.base, 100_000)
        fund(person, market.quote, 1_000_000)
    return market


def error_code(response) -> str:
    return response.json()["error"]["code"]
