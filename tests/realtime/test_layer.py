"""The channel layer the settings choose for Redis (exchange/settings/env.py), against a Redis of the test's own: the
feed's hubs hear the group again once a restarted Redis is back, without a restart of their own, and the database
number in REDIS_URL keeps two exchanges on one Redis apart."""

import asyncio
import time

import pytest
from django.utils.module_loading import import_string

from exchange.settings.env import channel_layer_from_env
from realtime.publish import FEED_GROUP
from tests.servers import RedisServer


@pytest.fixture
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def layer_for(url: str, monkeypatch):
    """A layer as the settings configure it for `url` (built as Channels builds its layers)."""
    monkeypatch.setenv("REDIS_URL", url)
    config = channel_layer_from_env()
    return import_string(config["BACKEND"])(**config.get("CONFIG", {}))


async def test_a_group_member_hears_the_group_again_after_redis_restarts(redis_server, monkeypatch):
    hub_side, publisher = layer_for(redis_server.url_for(), monkeypatch), layer_for(redis_server.url_for(), monkeypatch)
    channel = await hub_side.new_channel()
    await hub_side.group_add(FEED_GROUP, channel)
    heard = []

    async def read():
        while True:
            heard.append((await hub_side.receive(channel))["n"])

    reader = asyncio.create_task(read())
    try:
        await publisher.group_send(FEED_GROUP, {"type": "feed.update", "n": 0})
        await _until(lambda: heard == [0])

        redis_server.restart()
        for n in range(1, 100):  # published until the member hears one again; none is lost once it has
            try:
                await publisher.group_send(FEED_GROUP, {"type": "feed.update", "n": n})
            except Exception:  # the publisher's own connection is re-made on its next send
                pass
            await asyncio.sleep(0.1)
            if heard[1:]:
                break
        assert heard[1:], "the member never heard the group again"
        again = heard[-1] + 1
        await publisher.group_send(FEED_GROUP, {"type": "feed.update", "n": again})
        await _until(lambda: heard[-1] == again)
        assert heard == sorted(set(heard))  # in order, each once
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await hub_side.flush()
        await publisher.flush()


async def _until(condition, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_layers_on_two_databases_of_one_redis_do_not_hear_each_other(redis_server, monkeypatch):
    """Pub/sub channels belong to the whole server, not to a database: the database in REDIS_URL must still part
    two exchanges (or a test run and a dev server) sharing one Redis."""
    first, second = (layer_for(redis_server.url_for(database), monkeypatch) for database in (1, 2))
    channels = {}
    for layer in (first, second):
        channels[layer] = await layer.new_channel()
        await layer.group_add(FEED_GROUP, channels[layer])
    try:
        await first.group_send(FEED_GROUP, {"type": "feed.update", "n": 1})
        assert (await asyncio.wait_for(first.receive(channels[first]), 2))["n"] == 1
        receiving = asyncio.ensure_future(second.receive(channels[second]))
        await asyncio.sleep(0.3)
        assert not receiving.done()
        receiving.cancel()
        await asyncio.gather(receiving, return_exceptions=True)
    finally:
        await first.flush()
        await second.flush()
