"""Helpers for the websocket feed's tests: a connected client on the real ASGI app, and order placement from async."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from exchange.asgi import application
from tests.markets.conftest import gold_buck, place, traders  # noqa: F401 - fixtures shared with the market tests

ORIGIN = (b"origin", b"http://testserver")
QUIET = 0.3  # how long "nothing more arrives" is watched for


class Feed:
    """A websocket client of /ws/v1 that speaks JSON."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator

    async def send(self, message) -> None:
        await self.communicator.send_to(text_data=message if isinstance(message, str) else json.dumps(message))

    async def receive(self, timeout: float = 3) -> dict:
        return json.loads(await self.communicator.receive_from(timeout))

    async def receive_until(self, kind: str, timeout: float = 3) -> list[dict]:
        """Every message up to and including the first of type `kind`."""
        messages = []
        while not messages or messages[-1]["type"] != kind:
            messages.append(await self.receive(timeout))
        return messages

    async def subscribe(self, **keys) -> dict:
        await self.send({"op": "subscribe", **keys})
        reply = await self.receive()
        assert reply["type"] == "subscribed", reply
        return reply

    async def assert_quiet(self) -> None:
        assert await self.communicator.receive_nothing(QUIET), await self.receive()

    async def assert_usable(self) -> None:
        await self.send({"op": "ping"})
        assert await self.receive() == {"type": "pong"}

    async def close(self) -> None:
        # A receive that timed out has cancelled the application already: disconnecting would raise that
        # cancellation again in teardown, which skipped the database flush and failed every later test.
        if not self.communicator.future.done():
            await self.communicator.disconnect()


class Stalling:
    """The application, behind a socket whose sending can be stopped: a client that stopped reading (its
    socket's buffer is full, so the server's `websocket.send` waits) until `flow()`."""

    def __init__(self, app=application):
        self.app, self.flowing = app, asyncio.Event()
        self.flowing.set()

    def stall(self) -> None:
        self.flowing.clear()

    def flow(self) -> None:
        self.flowing.set()

    async def __call__(self, scope, receive, send):
        async def stalling_send(message):
            if message["type"] == "websocket.send":
                await self.flowing.wait()
            await send(message)

        return await self.app(scope, receive, stalling_send)


async def open_feed(*, user=None, headers=(ORIGIN,), path="/ws/v1", app=application) -> Feed:
    headers = list(headers)
    if user is not None:
        headers.append((b"cookie", f"sessionid={await database_sync_to_async(session_for)(user)}".encode()))
    communicator = WebsocketCommunicator(app, path, headers=headers)
    connected, _ = await communicator.connect()
    assert connected
    return Feed(communicator)


def session_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def place_async(*args, **kwargs):
    """Place an order from a test coroutine; its update is published after its commit, as in production."""
    return await database_sync_to_async(place)(*args, **kwargs)


@pytest.fixture
async def feeds():
    """Open feeds, closed at the end of the test."""
    opened = []

    async def open_(**kwargs) -> Feed:
        feed = await open_feed(**kwargs)
        opened.append(feed)
        return feed

    yield open_
    for feed in opened:
        await feed.close()
    await asyncio.sleep(0)
