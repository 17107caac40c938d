"""Rate limits on both stores: the per-process memory cache and the shared Redis (where production keeps them)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.test import Client, override_settings

from tests.api.conftest import error_code

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["memory", "redis"])
def store(request):
    """The cache the limits count in: the per-process memory, or the shared Redis (tests/api/conftest.py)."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def test_past_the_limit_answers_429_with_retry_after_and_the_refusal_is_not_counted(store, carol, make_bot):
    bot = make_bot(carol)
    with override_settings(API_RATE_LIMITS={"key": "3/min", "ip": "100/min"}):
        assert [bot.get("/api/v1/balances")["X-RateLimit-Remaining"] for _ in range(3)] == ["2", "1", "0"]
        for _ in range(2):
            response = bot.get("/api/v1/balances")
            assert (response.status_code, error_code(response)) == (429, "rate_limited")
            assert 1 <= int(response["Retry-After"]) <= 60
    with override_settings(API_RATE_LIMITS={"key": "6/min", "ip": "100/min"}):
        # The two refused requests did not count: 3 of 6 are used.
        assert bot.get("/api/v1/balances")["X-RateLimit-Remaining"] == "2"


def test_anonymous_requests_are_limited_per_address(store, client):
    with override_settings(API_RATE_LIMITS={"key": "100/min", "ip": "2/min"}):
        assert [client.get("/api/v1/time").status_code for _ in range(3)] == [200, 200, 429]
        assert client.get("/api/v1/time", REMOTE_ADDR="198.51.100.1").status_code == 200


@override_settings(API_RATE_LIMITS={"key": "100/min", "ip": "10/min"})
def test_concurrent_requests_are_each_counted_once_on_redis(redis_cache):
    """On Redis (shared by every process) requests that overlap are all counted: exactly the limit passes."""
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda _: Client().get("/api/v1/time").status_code, range(36)))
    assert sorted(statuses) == [200] * 10 + [429] * 26
