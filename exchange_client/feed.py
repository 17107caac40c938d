"""The websocket feed (/ws/v1, docs/websocket.md): subscriptions, local order books, reconnects.

    feed = Feed("http://127.0.0.1:8000", key=KEY, secret=SECRET)
    await feed.subscribe("book", "GOLD-BUCK")
    await feed.subscribe("fills")
    async for event in feed:          # LocalBook | Trade | Ticker | Candle | Order | Fill | Balance
        ...

Local books follow the sequence rule: the snapshot sets the book and its sequence; a delta is applied only if
its sequence is the last + 1. On a gap the book is marked stale (`book.synced` is False) and the client
subscribes to it again, which makes the server send a fresh snapshot. A LocalBook is yielded after every snapshot
or delta applied, and is always the same object for a market (`feed.book(symbol)`).

When the connection drops, the feed reconnects with exponential backoff (with jitter), signs the new handshake,
and subscribes again to everything: books come back with fresh snapshots. Trades, fills and orders that happened
while it was away are not replayed by the server: read them over REST (`fills`, `orders`) if they matter.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from urllib.parse import urlsplit, urlunsplit

import websockets
from websockets.asyncio.client import ClientConnection, connect

from exchange_client.errors import FeedError
from exchange_client.models import Balance, Candle, Fill, LocalBook, Order, Ticker, Trade
from exchange_client.signing import signed_headers

log = logging.getLogger(__name__)

PATH = "/ws/v1"
Event = LocalBook | Trade | Ticker | Candle | Order | Fill | Balance

_PARSERS = {
    "trade": Trade.from_api,
    "ticker": Ticker.from_api,
    "candle": Candle.from_api,
    "order": Order.from_api,
    "fill": Fill.from_api,
    "balance": Balance.from_api,
}
_QUIET = {"subscribed", "unsubscribed", "heartbeat", "pong"}


def websocket_url(url: str) -> str:
    """http://host:port -> ws://host:port/ws/v1 (https -> wss)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, PATH, "", ""))


class Feed:
    def __init__(self, url: str = "http://127.0.0.1:8000", *, key: str | None = None, secret: str | None = None,
                 max_backoff: float = 30.0):
        self.url = websocket_url(url)
        self.key, self.secret = key, secret
        self.max_backoff = max_backoff
        self.subscriptions: dict[tuple, dict] = {}  # what to (re)subscribe to after every connect
        self.books: dict[str, LocalBook] = {}
        self.resyncs = 0  # gaps repaired by a fresh snapshot: a health figure for logs and tests
        self.reconnects = 0
        self._socket: ClientConnection | None = None
        self._closed = False

    # --- what the bot calls -----------------------------------------------------------------------------------

    async def subscribe(self, channel: str, market: str | None = None, *, interval: str | None = None) -> None:
        message = {"op": "subscribe", "channel": channel, "market": market, "interval": interval}
        message = {k: v for k, v in message.items() if v is not None}
        self.subscriptions[(channel, market, interval)] = message
        if channel == "book":
            self.books.setdefault(market, LocalBook(market))
        await self._send(message)

    async def unsubscribe(self, channel: str, market: str | None = None, *, interval: str | None = None) -> None:
        message = self.subscriptions.pop((channel, market, interval), None)
        if message is not None:
            if channel == "book":
                self.books.pop(market, None)
            await self._send({**message, "op": "unsubscribe"})

    async def connect(self) -> None:
        """Connect now (else the first iteration does): events from here on are kept until they are read."""
        if self._socket is None:
            await self._connect()

    def book(self, market: str) -> LocalBook:
        """The local book of a market subscribed to with channel "book"."""
        return self.books[market]

    async def close(self) -> None:
        self._closed = True
        if self._socket is not None:
            await self._socket.close()

    async def __aenter__(self) -> Feed:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> Event:
        """The next event; connects and reconnects as needed. An error frame raises FeedError (iterate on after)."""
        while not self._closed:
            if self._socket is None:
                await self._connect()
                continue
            try:
                raw = await self._socket.recv()
            except websockets.ConnectionClosed as closed:
                if self._closed:
                    break
                log.warning("feed connection lost (%s); reconnecting", closed)
                self._socket = None
                continue
            event = await self._handle(json.loads(raw))
            if event is not None:
                return event
        raise StopAsyncIteration

    # --- plumbing ---------------------------------------------------------------------------------------------

    async def _connect(self) -> None:
        """Connect (retrying with backoff until it works), then subscribe again to everything."""
        attempt = 0
        while not self._closed:
            headers = signed_headers(self.key, self.secret, "GET", PATH) if self.key and self.secret else {}
            try:
                self._socket = await connect(self.url, additional_headers=headers, open_timeout=10)
                break
            except (OSError, TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed) as error:
                delay = min(self.max_backoff, 0.5 * 2**attempt) * (0.5 + random.random())
                log.warning("cannot reach the feed at %s (%s); next try in %.1f s", self.url, error, delay)
                attempt += 1
                await asyncio.sleep(delay)
        if self._closed:
            return
        if attempt or self.reconnects:
            log.info("feed connected again")
        self.reconnects += 1
        for book in self.books.values():
            book.synced = False  # until its fresh snapshot arrives
        for message in list(self.subscriptions.values()):
            await self._send(message)

    async def _send(self, message: dict) -> None:
        if self._socket is None:
            return  # sent on connect
        try:
            await self._socket.send(json.dumps(message))
        except websockets.ConnectionClosed:
            pass  # __anext__ notices, reconnects and sends every subscription again

    async def _handle(self, message: dict) -> Event | None:
        kind = message.get("type")
        if kind == "book.snapshot":
            book = self.books.get(message["market"])
            if book is not None:
                book.reset(message)
            return book
        if kind == "book.delta":
            book = self.books.get(message["market"])
            if book is None or not book.synced:
                return None  # unsubscribed, or waiting for the snapshot that repairs a gap
            if book.apply(message):
                return book
            self.resyncs += 1
            log.info("book %s: delta %s after %s; asking for a fresh snapshot", book.market, message["sequence"],
                     book.sequence)
            await self._send({"op": "subscribe", "channel": "book", "market": book.market})
            return None
        if kind == "error":
            raise FeedError(message.get("message", ""), code=message.get("code", "error"))
        if kind in _PARSERS:
            return _PARSERS[kind](message)
        if kind not in _QUIET:
            log.debug("ignoring a %s message", kind)
        return None
