"""The websocket feed at /ws/v1: public market data and each user's private streams (protocol: docs/websocket.md).

How a book subscriber always holds exactly the server's book
------------------------------------------------------------
Every committed change to a book has the next sequence number; its changed levels (and trades) are sent after the
commit to the group `market.<SYMBOL>` (realtime/publish.py). On the first subscription to a market the consumer

1. joins the group first, so every update committed from now on reaches it;
2. then reads the snapshot with `book_snapshot`, which reads the levels and the sequence under the market row
   lock, so they belong together (realtime/reads.market_state);
3. then goes on from the snapshot's sequence S: updates <= S are in the snapshot already and are dropped, S + 1
   is forwarded next, and so on.

Updates that arrive while the snapshot is read are not lost: a consumer handles one message at a time, so they
wait in the channel layer and are handled after the snapshot has been sent. Updates committed by different
processes can arrive out of order, so each market's updates pass through a `Sequencer`, which holds an early one
until the missing one arrives. If it does not come within GAP_WAIT_SECONDS (the layer dropped it because this
client's channel was full, or a publisher died between commit and send), the consumer takes a fresh snapshot and
goes on from there — together with the trades it missed, read under the same lock, so a trades subscriber still
sees each trade exactly once and in order. A client that re-subscribes to `book` gets a fresh snapshot the same way.

Nothing here can slow matching down: the matching path only hands messages to the layer; a stuck client fills its
own channel, loses messages, and resynchronises when it reads again.

Ticker and candle messages follow book updates (computed once per process and sequence, realtime/reads.shared);
the `tickers` stream follows a one-line notice per changed market. Private streams arrive per user in the group
`user.<id>` and are forwarded as they come.
"""

import asyncio
import json
import logging
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from markets.events import iso
from markets.models import Market
from markets.selectors import INTERVALS, MAX_DEPTH
from realtime import reads
from realtime.auth import credentials, user_for_key
from realtime.publish import TICKERS_GROUP, market_group, user_group
from realtime.sequencer import Sequencer

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 4096
MAX_SUBSCRIPTIONS = 50
HEARTBEAT_SECONDS = 15
GAP_WAIT_SECONDS = 0.5

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
    streams: set[str] = field(default_factory=set)
    sequencer: Sequencer = field(default_factory=Sequencer)
    last_trade_id: int = 0
    gap_timer: asyncio.Task | None = None


class FeedConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user = self.scope.get("user") or AnonymousUser()
        sent = credentials(self.scope)
        if sent is not None:
            client_ip = (self.scope.get("client") or ("",))[0]
            self.user = await database_sync_to_async(user_for_key)(*sent, client_ip) or self.user
        self.subscriptions: set[Subscription] = set()
        self.feeds: dict[str, MarketFeed] = {}
        self.ticker_sequences: dict[str, int] = {}  # the `tickers` stream: the last sequence sent per market
        # Held while a feed's state changes: the gap timer runs beside the message handlers.
        self.lock = asyncio.Lock()
        await self.accept()
        self.heartbeat = asyncio.create_task(self._beat())

    async def disconnect(self, code):
        self.heartbeat.cancel()
        for feed in self.feeds.values():
            if feed.gap_timer:
                feed.gap_timer.cancel()
        groups = [market_group(symbol) for symbol in self.feeds]
        if any(s.channel == "tickers" for s in self.subscriptions):
            groups.append(TICKERS_GROUP)
        if self._private():
            groups.append(user_group(self.user.pk))
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)

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
            await self.channel_layer.group_add(user_group(self.user.pk), self.channel_name)
        if channel == "tickers" and not again:
            await self.channel_layer.group_add(TICKERS_GROUP, self.channel_name)
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
                feed = self.feeds[subscription.market] = MarketFeed(market=market)
                # Join before the snapshot is read: see the module docstring.
                await self.channel_layer.group_add(market_group(market.symbol), self.channel_name)
            feed.streams.add(subscription.stream)
            if channel == "book" or feed.sequencer.sequence is None:
                await self._resync(feed, derived={subscription.stream}, subscribed=subscription)
            else:
                await self.send_json(subscription.frame("subscribed"))
                await self._send_derived(feed, feed.sequencer.sequence, {subscription.stream})
        else:
            await self.send_json(subscription.frame("subscribed"))

    async def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription not in self.subscriptions:
            raise FeedError("not_subscribed", "There is no such subscription on this connection.")
        self.subscriptions.discard(subscription)
        if subscription.channel in PRIVATE_CHANNELS and not self._private():
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)
        elif subscription.channel == "tickers":
            await self.channel_layer.group_discard(TICKERS_GROUP, self.channel_name)
        elif subscription.channel in MARKET_CHANNELS:
            feed = self.feeds[subscription.market]
            feed.streams.discard(subscription.stream)
            if not feed.streams:
                await self.channel_layer.group_discard(market_group(subscription.market), self.channel_name)
                if feed.gap_timer:
                    feed.gap_timer.cancel()
                del self.feeds[subscription.market]
        await self.send_json(subscription.frame("unsubscribed"))

    def _private(self) -> bool:
        return any(s.channel in PRIVATE_CHANNELS for s in self.subscriptions)

    # --- what the channel layer brings ----------------------------------------------------------------------

    async def market_update(self, event):
        """One committed book change (see realtime/publish.py): put in order, then forward."""
        update = event["payload"]
        async with self.lock:
            feed = self.feeds.get(update["market"])
            if feed is None:
                return  # unsubscribed while it travelled
            feed.sequencer.add(update)
            await self._forward_ready(feed)

    async def _forward_ready(self, feed: MarketFeed) -> None:
        ready = feed.sequencer.ready()
        for update in ready:
            if "book" in feed.streams:
                await self.send_json(
                    {
                        "type": "book.delta",
                        "market": update["market"],
                        "sequence": update["sequence"],
                        "changes": update["book"],
                    }
                )
            for trade in update["trades"]:
                feed.last_trade_id = trade["id"]
                if "trades" in feed.streams:
                    await self.send_json({"type": "trade", **trade})
        if ready:
            traded = any(update["trades"] for update in ready)
            streams = {s for s in feed.streams if s == "ticker" or (traded and s.startswith("candles:"))}
            await self._send_derived(feed, ready[-1]["sequence"], streams)
        if feed.sequencer.overflowing:
            await self._resync(feed)
        elif feed.sequencer.waiting and feed.gap_timer is None:
            feed.gap_timer = asyncio.create_task(self._wait_for_gap(feed, feed.sequencer.sequence + 1))

    async def _wait_for_gap(self, feed: MarketFeed, missing: int) -> None:
        """Give a missing update a moment to arrive; if it does not, resynchronise from a fresh snapshot."""
        await asyncio.sleep(GAP_WAIT_SECONDS)
        async with self.lock:
            feed.gap_timer = None
            if self.feeds.get(feed.market.symbol) is not feed:
                return
            if feed.sequencer.sequence < missing:
                log.info("resynchronising %s: update %s never came", feed.market.symbol, missing)
                await self._resync(feed)
            elif feed.sequencer.waiting:  # that gap closed, a later one opened
                feed.gap_timer = asyncio.create_task(self._wait_for_gap(feed, feed.sequencer.sequence + 1))

    async def _resync(
        self, feed: MarketFeed, derived: set[str] | None = None, subscribed: Subscription | None = None
    ) -> None:
        """Go on from a fresh snapshot: send it to book subscribers and the trades missed to trades subscribers."""
        synced = feed.sequencer.sequence is not None
        state = await database_sync_to_async(reads.market_state)(
            market=feed.market,
            depth=MAX_DEPTH if "book" in feed.streams else 1,
            after_trade_id=feed.last_trade_id if synced else None,
        )
        feed.sequencer.reset(state.sequence)
        feed.last_trade_id = state.last_trade_id
        if subscribed:
            await self.send_json(subscribed.frame("subscribed"))
        if "book" in feed.streams:
            await self.send_json(state.snapshot)
        if "trades" in feed.streams:
            for trade in state.trades:
                await self.send_json({"type": "trade", **trade})
        if derived is None:  # a gap: tickers and candles may have moved too
            derived = {s for s in feed.streams if s == "ticker" or s.startswith("candles:")}
        await self._send_derived(feed, state.sequence, derived)
        await self._forward_ready(feed)  # updates that came early may follow on from the snapshot

    async def _send_derived(self, feed: MarketFeed, sequence: int, streams: set[str]) -> None:
        market = feed.market
        for stream in sorted(streams):
            if stream == "ticker":
                message = await reads.shared(("ticker", market.symbol), sequence, lambda: reads.ticker_message(market))
            elif stream.startswith("candles:"):
                interval = stream.partition(":")[2]
                message = await reads.shared(
                    ("candle", market.symbol, interval), sequence, lambda: reads.candle_message(market, interval)
                )
            else:
                continue
            if message is not None:
                await self.send_json(message)

    async def tickers_update(self, event):
        """A market changed: send its ticker to `tickers` subscribers, unless a newer one went out already."""
        symbol, sequence = event["market"], event["sequence"]
        if sequence <= self.ticker_sequences.get(symbol, -1):
            return
        market = await self._market(symbol)
        if market is None:
            return
        self.ticker_sequences[symbol] = sequence
        await self.send_json(await reads.shared(("ticker", symbol), sequence, lambda: reads.ticker_message(market)))

    async def user_update(self, event):
        """The user's own orders, fills and balances from one committed change, for the matching subscriptions."""
        update = event["payload"]
        for channel, kind in PRIVATE_MESSAGE_TYPES.items():
            if Subscription(channel) in self.subscriptions or Subscription(channel, update["market"]) in self.subscriptions:
                for item in update[channel]:
                    await self.send_json({"type": kind, **item})

    # --- plumbing -------------------------------------------------------------------------------------------

    async def send_json(self, message: dict) -> None:
        await self.send(text_data=json.dumps(message, separators=(",", ":")))

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await self.send_json({"type": "heartbeat", "time": iso(timezone.now())})
