"""What a signed API request costs besides its view: one key query, one shared Redis client, for all its throttles
one script run on Redis (one cache read and one write in memory); the order it answers with, serializer fields
built once."""

import os
from unittest import mock

import pytest
from django.core.cache import cache
from django.utils import timezone

from api.authentication import key_with_user
from api.models import ApiKey
from exchange.cache import RedisCache
from markets import services as markets
from markets.serializers import OrderSerializer
from tests.conftest import fund, make_currency
from tests.markets.conftest import place

pytestmark = pytest.mark.django_db


def test_the_key_lookup_loads_what_the_orm_loads(carol, make_bot):
    bot = make_bot(carol, allowed_ips=["127.0.0.1"])
    ApiKey.objects.filter(pk=bot.key.pk).update(last_used_at=timezone.now())
    expected = ApiKey.objects.select_related("user").get(key_id=bot.key.key_id)

    found = key_with_user(bot.key.key_id)

    for model_fields, ours, theirs in ((ApiKey._meta.concrete_fields, found, expected),
                                       (carol._meta.concrete_fields, found.user, expected.user)):
        for field in model_fields:
            value, wanted = getattr(ours, field.attname), getattr(theirs, field.attname)
            assert (value, type(value)) == (wanted, type(wanted)), field.name
    assert key_with_user("ak_nonexistent") is None


def test_all_throttles_share_one_cache_read_and_one_write(carol, make_bot):
    bot = make_bot(carol)
    with mock.patch.object(cache, "get_many", wraps=cache.get_many) as reads, \
            mock.patch.object(cache, "set_many", wraps=cache.set_many) as writes:
        response = bot.get("/api/v1/balances")

    assert response.status_code == 200
    assert reads.call_count == 1 and sorted(reads.call_args.args[0]) == [
        "throttle:ip:127.0.0.1", f"throttle:key:{bot.key.pk}"]
    assert writes.call_count == 1  # DRF's throttles would read and write once each


def test_on_redis_all_throttles_are_one_script_run(carol, make_bot, redis_cache):
    from redis.commands.core import Script

    bot = make_bot(carol)
    with mock.patch.object(Script, "__call__", autospec=True, side_effect=Script.__call__) as runs:
        response = bot.get("/api/v1/balances")

    assert response.status_code == 200
    assert runs.call_count == 1
    assert sorted(runs.call_args.kwargs["keys"]) == [
        f"{redis_cache}:1:throttle-log:throttle:ip:127.0.0.1", f"{redis_cache}:1:throttle-log:throttle:key:{bot.key.pk}"]


def test_every_redis_cache_of_the_process_uses_one_client():
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    first = RedisCache(url, {})
    second = RedisCache(url, {})  # what another request's context gets

    assert first._cache is second._cache
    assert first._cache.get_client(write=True) is second._cache.get_client(write=True)
    first.set("request-costs", 1, 5)
    assert second.get("request-costs") == 1


def test_order_fields_built_once_serve_each_order_its_own_values(carol, funded, alice):
    """The serializer's fields are built once per class; each instance must still bind copies of its own."""
    plat = markets.market_create(user=alice, base=make_currency(alice, "PLAT", decimals=1), quote=funded.quote)
    fund(carol, plat.base, 1_000)
    first = place(carol, funded, "buy", quantity=1_000, price=2_500)
    second = place(carol, plat, "sell", quantity=30, price=1_000)
    shown = [OrderSerializer(order).data for order in (first, second, first)]
    assert [(row["market"], row["quantity"], row["price"]) for row in shown] == [
        ("GOLD-BUCK", "1.000", "25.00"),
        ("PLAT-BUCK", "3.0", "10.00"),
        ("GOLD-BUCK", "1.000", "25.00"),
    ]
    assert "_fields_template" in OrderSerializer.__dict__
