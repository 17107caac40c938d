"""The websocket feed at /ws/v1: public market data and each user's private streams (protocol: docs/websocket.md).

How a book subscriber always holds exactly the server's book
------------------------------------------------------------
Every committed change to a book has the next sequence number; its changed levels (and trades) are sent after the
commit to the group `feed` (realtime/publish.py). Each process hears that group once, through its hub
(realtime/hub.py), which puts each market's updates in sequence order and hands them, encoded once, to the inbox
of every local consumer following the market. On the first subscription to a market the consumer

1. follows the market's stream first, so every update handed on from now on reaches its inbox;
2. then reads the snapshot (`MarketStream.state`: the levels, the sequence and the trades read together under the
   market row lock, realtime/reads.market_state; consumers asking at the same point share one read);
3. then goes on from the snapshot's sequence S: updates <= S are in the snapshot already and are dropped, S + 1
   is forwarded next, and so on.

Updates handed on while the snapshot is read are not lost: they wait in the inbox, which the consumer empties
only between its own steps. The hub hands updates on in order, so a jump in the sequence means updates were lost
(the hub gave up waiting for one, or this client's inbox was full because it reads too slowly): the consumer
takes a fresh snapshot and goes on from there — together with the trades it missed, read under the same lock, so
a trades subscriber still sees each trade exactly once and in order. A client that re-subscribes to `book` gets a
fresh snapshot the same way.

Nothing here can slow matching down, and no client slows another: the matching path only hands messages to the
layer, the hub only puts into bounded inboxes or writes to sockets that take the frame at once, and a stuck client
fills its own inbox, loses updates and resynchronises when it reads again.

The common case takes a shorter way: a connection following a market's book and trades only, with nothing queued
and nothing under way, gets the next update written to its socket by the hub itself (`deliver`), without a task
switch or a pass through the inbox. A write that cannot finish at once (the socket's buffer is full) is finished
by a task of the connection's own, before anything else it sends; meanwhile the updates queue in the inbox as above.

Ticker and candle messages follow book updates (computed and encoded once per process and sequence,
realtime/reads.shared); the `tickers` stream follows a notice per changed market, also through the hub. The hub
hands each user's own orders, fills and balances only to that user's connections, which forward them as they come.
"""

import asyncio
import json
import logging
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from markets.events import iso
from markets.models import Market
from markets.selectors import INTERVALS
from realtime import eager, reads
from realtime.auth import credentials, user_for_key
from realtime.frames import encode, encode_or_none
from realtime.hub import MarketStream, PrivateUpdate, TickerNotice, Update, hub_for

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4096
MAX_SUBSCRIPTIONS = 50
HEARTBEAT_SECONDS = 15
INBOX_SIZE = 1000  # updates and notices waiting to be sent; past this the client is too slow and resynchronises
# A feed following only these streams of a market is sent its updates by the hub directly (`FeedConsumer.deliver`):
# they are the update's own frames. Tickers and candles are read per sequence, which may wait for the database.
DIRECT_STREAMS = frozenset({"book", "trades"})

MARKET_CHANNELS = {"book", "trades", "ticker", "candles"}
PRIVATE_CHANNELS = {"orders", "fills", "balances"}
CHANNELS = MARKET_CHANNELS | PRIVATE_CHANNELS | {"tickers"}
PRIVATE_MESSAGE_TYPES = {"orders": "order", "fills": "fill", "balances": "balance"}


class FeedError(Exception):
    """A client mistake: answered with an error frame; the connection stays open."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Subscription:
    channel: str
    market: str | None = None
    interval: str | None = None

    @property
    def stream(self) -> str:
        """The name of this stream within its market's feed: "book", "trades", "ticker" or "candles:1m"."""
        return f"candles:{self.interval}" if self.channel == "candles" else self.channel

    def frame(self, kind: str) -> dict:
        frame = {"type": kind, "channel": self.channel, "market": self.market}
        if self.interval:
            frame["interval"] = self.interval
        return frame


@dataclass
class MarketFeed:
    """What one connection follows of one market, and where it is in that market's sequence."""

    market: Market
    stream: MarketStream
    streams: set[str] = field(default_factory=set)
    sequence: int | None = None  # the last one sent (or the snapshot's); None before the first snapshot
    last_trade_id: int = 0


class FeedConsumer(AsyncWebsocketConsumer):
    # No layer channel per connection: the process's hub is the one (realtime/hub.py).
    channel_layer_alias = None

    async def __call__(self, scope, receive, send):
        try:
            await super().__call__(scope, receive, send)
        finally:  # however the connection ended (even a crash), its hub streams let go of it
            await self._stop()

    async def connect(self):
        self.user = self.scope.get("user") or AnonymousUser()
        sent = credentials(self.scope)
        if sent is not None:
            client_ip = (self.scope.get("client") or ("",))[0]
            self.user = await database_sync_to_async(user_for_key)(*sent, client_ip) or self.user
        self.subscriptions: set[Subscription] = set()
        self.feeds: dict[str, MarketFeed] = {}
        self.ticker_sequences: dict[str, int] = {}  # the `tickers` stream: the last sequence sent per market
        self.hub = hub_for(get_channel_layer())
        self.inbox: asyncio.Queue[Update | TickerNotice] = asyncio.Queue(maxsize=INBOX_SIZE)
        self.behind: set[str] = set()  # markets whose updates did not fit in the inbox
        # Held while a feed's state changes: the inbox is emptied beside the client's own messages.
        self.lock = asyncio.Lock()
        self.sending: asyncio.Task | None = None  # what `deliver` left to finish: the socket's buffer was full
        await self.accept()
        self.tasks = [asyncio.create_task(self._beat()), asyncio.create_task(self._pump())]

    async def disconnect(self, code):
        await self._stop()

    async def _stop(self) -> None:
        """Cancel this connection's tasks and leave its streams and groups; safe to call more than once."""
        for task in [*getattr(self, "tasks", []), getattr(self, "sending", None)]:
            if task is not None:
                task.cancel()
        feeds, self.feeds = getattr(self, "feeds", {}), {}
        for symbol in feeds:
            await self.hub.leave_market(symbol, self)
        subscriptions, self.subscriptions = getattr(self, "subscriptions", set()), set()
        if any(s.channel == "tickers" for s in subscriptions):
            await self.hub.leave_tickers(self)
        if any(s.channel in PRIVATE_CHANNELS for s in subscriptions):
            await self.hub.leave_user(self.user.pk, self)

    # --- what the client sends ------------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        try:
            raw = text_data.encode() if text_data is not None else bytes_data or b""
            if len(raw) > MAX_MESSAGE_BYTES:
                raise FeedError("message_too_large", f"Messages are at most {MAX_MESSAGE_BYTES} bytes.")
            try:
                message = json.loads(raw)
            except (ValueError, RecursionError):
                raise FeedError("bad_json", "Send each message as one JSON object.") from None
            if not isinstance(message, dict):
                raise FeedError("bad_json", "Send each message as one JSON object.")
            op = message.get("op")
            if op == "ping":
                await self.send_json({"type": "pong"})
            elif op in ("subscribe", "unsubscribe"):
                subscription = await self._parse(message)
                async with self.lock:
                    await self._sent()
                    if op == "subscribe":
                        await self._subscribe(subscription)
                    else:
                        await self._unsubscribe(subscription)
            else:
                raise FeedError("unknown_op", "Use op subscribe, unsubscribe or ping.")
        except FeedError as error:
            await self.send_json({"type": "error", "code": error.code, "message": error.message})

    async def _parse(self, message: dict) -> Subscription:
        channel = message.get("channel")
        if not isinstance(channel, str) or channel not in CHANNELS:
            raise FeedError("unknown_channel", f"Use one of the channels {', '.join(sorted(CHANNELS))}.")
        if channel in PRIVATE_CHANNELS and not self.user.is_authenticated:
            raise FeedError("not_authenticated", f"Sign in or use an API key to follow your {channel}.")
        market = message.get("market") if channel != "tickers" else None
        if market is None and channel in MARKET_CHANNELS:
            raise FeedError("unknown_market", f"Name the market of the {channel} channel, e.g. GOLD-BUCK.")
        if market is not None:
            if not isinstance(market, str) or await self._market(market) is None:
                raise FeedError("unknown_market", f"There is no market {str(market)[:25]}.")
        interval = None
        if channel == "candles":
            interval = message.get("interval")
            if not isinstance(interval, str) or interval not in INTERVALS:
                raise FeedError("unknown_interval", f"Use one of the intervals {', '.join(INTERVALS)}.")
        return Subscription(channel, market, interval)

    async def _market(self, symbol: str) -> Market | None:
        if symbol in self.feeds:
            return self.feeds[symbol].market
        if len(symbol) > 25:
            return None
        return await database_sync_to_async(reads.market_for)(symbol)

    async def _subscribe(self, subscription: Subscription) -> None:
        again = subscription in self.subscriptions
        if not again and len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise FeedError("too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection.")
        channel = subscription.channel
        if channel in PRIVATE_CHANNELS and not self._private():
            await self.hub.follow_user(self.user.pk, self)
        if channel == "tickers" and not again:
            await self.hub.follow_tickers(self)
        self.subscriptions.add(subscription)
        # "subscribed" goes out once the stream is joined and its starting point read: from then on the client
        # gets every change (for a market, every change after the snapshot that follows).
        if channel == "tickers":
            tickers = await database_sync_to_async(reads.ticker_messages_all)()
            await self.send_json(subscription.frame("subscribed"))
            for ticker in tickers:
                await self.send_json(ticker)
        elif channel in MARKET_CHANNELS:
            feed = self.feeds.get(subscription.market)
            if feed is None:
                market = await self._market(subscription.market)
                # Follow before the snapshot is read: see the module docstring.
                stream = await self.hub.follow_market(market, self)
                feed = self.feeds[subscription.market] = MarketFeed(market=market, stream=stream)
            feed.streams.add(subscription.stream)
            if channel == "book" or feed.sequence is None:
                await self._resync(feed, derived={subscription.stream}, subscribed=subscription)
            else:
                await self.send_json(subscription.frame("subscribed"))
                await self._send_derived(feed, feed.sequence, {subscription.stream})
        else:
            await self.send_json(subscription.frame("subscribed"))

    async def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription not in self.subscriptions:
            raise FeedError("not_subscribed", "There is no such subscription on this connection.")
        self.subscriptions.discard(subscription)
        if subscription.channel in PRIVATE_CHANNELS and not self._private():
            await self.hub.leave_user(self.user.pk, self)
        elif subscription.channel == "tickers":
            await self.hub.leave_tickers(self)
        elif subscription.channel in MARKET_CHANNELS:
            feed = self.feeds[subscription.market]
            feed.streams.discard(subscription.stream)
            if not feed.streams:
                del self.feeds[subscription.market]
                await self.hub.leave_market(subscription.market, self)
        await self.send_json(subscription.frame("unsubscribed"))

    def _private(self) -> bool:
        return any(s.channel in PRIVATE_CHANNELS for s in self.subscriptions)

    # --- what the hub hands on ------------------------------------------------------------------------------

    def deliver(self, item: Update | TickerNotice | PrivateUpdate) -> None:
        """Called by the hub for every local follower: never blocks, so one slow client holds up no other.

        The next update of a market this connection follows only for its book and trades, while the connection has
        nothing else to do, is written to its socket right here. Everything else waits in the bounded inbox for
        `_pump`. Handing each update to each connection's task cost the server more than the writes themselves: at a
        thousand subscribers, a thousand task wake-ups per update and as many passes through the send layers."""
        if type(item) is Update and self._forward_now(item):
            return
        try:
            self.inbox.put_nowait(item)
        except asyncio.QueueFull:  # this client reads too slowly: it takes a fresh snapshot once it catches up
            if isinstance(item, Update):
                self.behind.add(item.market)

    def _forward_now(self, update: Update) -> bool:
        """Send `update` at once if nothing must go before it and it needs no read; False if `_pump` must."""
        feed = self.feeds.get(update.market)
        if (
            self.sending is not None  # a frame is still waiting for the socket: this one goes after it
            or self.lock.locked()  # a subscription or resync is under way, or the inbox is being emptied
            or self.behind
            or not self.inbox.empty()
            or feed is None
            or feed.sequence is None
            or update.sequence != feed.sequence + 1
            or not feed.streams <= DIRECT_STREAMS
        ):
            return False
        messages = _advance(feed, update)
        for index, message in enumerate(messages):
            try:
                rest = eager.start(self.base_send(message))
            except OSError:  # the client went away; disconnect() follows
                return True
            except Exception:  # never into the hub's loop: the other followers still get the update
                log.exception("forwarding to a feed subscriber failed")
                return True
            if rest is not None:  # the socket's buffer is full: the rest is sent in turn, before anything else
                self.sending = asyncio.ensure_future(self._send_rest(rest, messages[index + 1:]))
                return True
        return True

    async def _send_rest(self, rest, messages: list[dict]) -> None:
        try:
            await rest
            for message in messages:
                await self.base_send(message)
        except OSError:  # the client went away; disconnect() follows
            pass
        finally:
            self.sending = None

    async def _sent(self) -> None:
        """Wait until what `deliver` left to finish is sent."""
        if self.sending is not None:
            await asyncio.shield(self.sending)

    async def _pump(self) -> None:
        """Send what the hub hands on: everything waiting at once, then ticker and candles once per market."""
        while True:
            batch = [await self.inbox.get()]
            while not self.inbox.empty():
                batch.append(self.inbox.get_nowait())
            try:
                async with self.lock:
                    await self._sent()
                    await self._forward(batch)
                    if self.inbox.empty():  # caught up: now take the snapshots of what was lost
                        for symbol in list(self.behind):
                            self.behind.discard(symbol)
                            if symbol in self.feeds:
                                await self._resync(self.feeds[symbol])
            except OSError:  # the client went away; disconnect() follows
                return
            except Exception:
                log.exception("forwarding to a feed subscriber failed")

    async def _forward(self, batch: list[Update | TickerNotice | PrivateUpdate]) -> None:
        moved: dict[str, tuple[int, bool]] = {}  # market -> (last sequence sent, any trade among them)
        for item in batch:
            if isinstance(item, TickerNotice):
                await self._send_ticker(item)
                continue
            if isinstance(item, PrivateUpdate):
                await self._send_private(item.part)
                continue
            feed = self.feeds.get(item.market)
            if feed is None or feed.sequence is None or item.sequence <= feed.sequence:
                continue  # unsubscribed while it travelled, or the snapshot has it already
            if item.sequence > feed.sequence + 1:  # updates were lost on the way: start again from a snapshot
                await self._resync(feed)
                moved.pop(item.market, None)
                continue
            for message in _advance(feed, item):
                await self.base_send(message)
            moved[item.market] = (item.sequence, bool(item.trades) or moved.get(item.market, (0, False))[1])
        for symbol, (sequence, traded) in moved.items():
            feed = self.feeds.get(symbol)
            if feed is not None:
                streams = {s for s in feed.streams if s == "ticker" or (traded and s.startswith("candles:"))}
                await self._send_derived(feed, sequence, streams)

    async def _resync(
        self, feed: MarketFeed, derived: set[str] | None = None, subscribed: Subscription | None = None
    ) -> None:
        """Go on from a fresh snapshot: send it to book subscribers and the trades missed to trades subscribers."""
        synced = feed.sequence is not None
        state = await feed.stream.state(after_trade_id=feed.last_trade_id if synced else None)
        if synced:
            log.info("resynchronising %s at %s: updates after %s were lost", feed.market.symbol, state.sequence,
                     feed.sequence)
        feed.sequence = state.sequence  # what waits in the inbox up to here is dropped as it comes
        feed.last_trade_id = state.last_trade_id
        self.behind.discard(feed.market.symbol)
        if subscribed:
            await self.send_json(subscribed.frame("subscribed"))
        if "book" in feed.streams:
            await self.send(text_data=state.snapshot_frame)
        if "trades" in feed.streams:
            for frame in state.trade_frames:
                await self.send(text_data=frame)
        if derived is None:  # a gap: tickers and candles may have moved too
            derived = {s for s in feed.streams if s == "ticker" or s.startswith("candles:")}
        await self._send_derived(feed, state.sequence, derived)

    async def _send_derived(self, feed: MarketFeed, sequence: int, streams: set[str]) -> None:
        market = feed.market
        for stream in sorted(streams):
            if stream == "ticker":
                frame = await reads.shared(
                    ("ticker", market.symbol), sequence, lambda: encode(reads.ticker_message(market))
                )
            elif stream.startswith("candles:"):
                interval = stream.partition(":")[2]
                frame = await reads.shared(
                    ("candle", market.symbol, interval), sequence,
                    lambda: encode_or_none(reads.candle_message(market, interval)),
                )
            else:
                continue
            if frame is not None:
                await self.send(text_data=frame)

    async def _send_ticker(self, notice: TickerNotice) -> None:
        """A market changed: send its ticker to `tickers` subscribers, unless a newer one went out already."""
        if not any(s.channel == "tickers" for s in self.subscriptions):
            return
        symbol, sequence = notice.market, notice.sequence
        if sequence <= self.ticker_sequences.get(symbol, -1):
            return
        frame = await reads.shared(
            ("ticker", symbol), sequence, lambda: encode_or_none(reads.ticker_message_for(symbol))
        )
        if frame is not None:
            self.ticker_sequences[symbol] = sequence
            await self.send(text_data=frame)

    async def _send_private(self, update: dict) -> None:
        """The user's own orders, fills and balances from one committed change, for the matching subscriptions."""
        for channel, kind in PRIVATE_MESSAGE_TYPES.items():
            mine = Subscription(channel), Subscription(channel, update["market"])
            if any(subscription in self.subscriptions for subscription in mine):
                for item in update[channel]:
                    await self.send_json({"type": kind, **item})

    # --- plumbing -------------------------------------------------------------------------------------------

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=encode(message))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.send_json({"type": "heartbeat", "time": iso(timezone.now())})


def _advance(feed: MarketFeed, update: Update) -> list[dict]:
    """Move the feed on to `update` (the next sequence) and return the send messages its streams take from it."""
    feed.sequence = update.sequence
    messages = [update.book_message] if "book" in feed.streams else []
    for trade_id, message in update.trade_messages:
        feed.last_trade_id = trade_id
        if "trades" in feed.streams:
            messages.append(message)
    return messages
