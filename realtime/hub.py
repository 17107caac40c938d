"""In-process fan-out of the feed: one channel-layer membership per process, shared by its websockets.

If each connection joined a group itself, one committed update would cost one Redis message, one event loop
dispatch and one JSON encoding per subscriber: at a thousand subscribers that is most of the work, and most of the
latency. Instead each ASGI process (each event loop) has one `Hub` with a layer channel of its own, in the group
`feed` (realtime/publish.py) while any local consumer follows anything. Its reader takes each update off the layer
once, puts each followed market's updates in sequence order (one `Sequencer` per market and process), encodes the
frames once (`Update`) and hands the same objects to every local follower; a notice to `tickers` followers; and
each user's own part (`PrivateUpdate`) to that user's connections only.

What the consumers rely on (realtime/consumers.py):
- A follower hears every update handed on after it started following, in sequence and without gaps, except when
  an update never arrives within GAP_WAIT_SECONDS (the layer dropped it, or its publisher died between commit and
  send): then the hub goes on from the next one it holds, and each consumer, seeing the jump, resynchronises.
- `MarketStream.state` is read after everything handed on so far, so a consumer that follows first and reads it
  next misses nothing. Consumers asking at the same point (a thousand connecting at once, or all seeing the same
  gap) share one read under the market row lock instead of queueing a thousand.
- The hub never awaits a follower: `deliver` must not block (a consumer writes the update to its socket if the
  socket takes it at once, else puts it into a bounded inbox; one that cannot keep up loses updates and
  resynchronises), so a slow client holds up no one else.
"""

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from channels.db import database_sync_to_async

from markets.models import Market
from markets.selectors import MAX_DEPTH
from realtime import reads
from realtime.frames import encode, send_message
from realtime.publish import FEED_GROUP, private_parts
from realtime.sequencer import Sequencer

log = logging.getLogger(__name__)

GAP_WAIT_SECONDS = 0.5
# Group memberships expire in some layers (a day in the in-memory one): join again now and then. group_add is
# idempotent.
REJOIN_SECONDS = 60
# How long leaving waits for the reader to stop. A layer's receive may swallow the cancellation (channels_redis's
# list layer did, inside redis-py's read): the follower that left must still be answered.
STOP_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class Update:
    """One committed book change, handed on in sequence, with its frames encoded once for every follower (and
    wrapped once as the ASGI messages that send them)."""

    market: str
    sequence: int
    book_frame: str
    trades: tuple[tuple[int, str], ...]  # (trade id, its frame), oldest first
    book_message: dict = field(init=False, repr=False, compare=False)
    trade_messages: tuple[tuple[int, dict], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "book_message", send_message(self.book_frame))
        object.__setattr__(self, "trade_messages", tuple((id_, send_message(frame)) for id_, frame in self.trades))

    @classmethod
    def from_payload(cls, payload: dict) -> "Update":
        delta = {"type": "book.delta", "market": payload["market"], "sequence": payload["sequence"],
                 "changes": payload["book"]}
        trades = tuple((trade["id"], encode({"type": "trade", **trade})) for trade in payload["trades"])
        return cls(payload["market"], payload["sequence"], encode(delta), trades)


@dataclass(frozen=True)
class PrivateUpdate:
    """One user's own orders, fills and balances from one committed change (realtime.publish.private_parts)."""

    part: dict


@dataclass(frozen=True)
class TickerNotice:
    """Market `market` changed with book sequence `sequence`: for the all-markets `tickers` stream."""

    market: str
    sequence: int


class Follower(Protocol):
    def deliver(self, item: "Update | TickerNotice | PrivateUpdate") -> None:
        """Take the item without awaiting anything."""


class MarketStream:
    """One market as this process hears it: its local followers, its updates in order, its shared snapshot reads."""

    def __init__(self, market: Market):
        self.market = market
        self.followers: set[Follower] = set()
        self.sequencer = Sequencer()  # starts at the first state read (everything after it was joined is held)
        self.gap_timer: asyncio.Task | None = None
        self.last_read: tuple[int | None, int | None, asyncio.Future] | None = None  # (after trade, position, read)

    @property
    def position(self) -> int | None:
        """The last sequence handed on (None until the first state is read)."""
        return self.sequencer.sequence

    def add(self, payload: dict) -> None:
        self.sequencer.add(payload)
        self._hand_on()

    def _hand_on(self) -> None:
        if self.sequencer.overflowing:  # far behind one missing update: stop waiting for it
            self.sequencer.skip()
        for payload in self.sequencer.ready():
            update = Update.from_payload(payload)
            for follower in list(self.followers):
                follower.deliver(update)
        if self.sequencer.waiting and self.position is not None and self.gap_timer is None:
            self.gap_timer = asyncio.get_running_loop().create_task(self._wait_for_gap(self.position + 1))

    async def _wait_for_gap(self, missing: int) -> None:
        """Give a missing update a moment to arrive; if it does not, go on without it."""
        await asyncio.sleep(GAP_WAIT_SECONDS)
        self.gap_timer = None
        if self.position < missing:
            log.info("%s: update %s never came; going on from the next one", self.market.symbol, missing)
            self.sequencer.skip()
        self._hand_on()  # waits again if a later gap is open

    async def state(self, *, after_trade_id: int | None) -> reads.MarketState:
        """The book (full depth), its sequence and the trades after `after_trade_id`, read after everything handed
        on so far: a follower drops what it includes and goes on with what is handed on next."""
        last = self.last_read
        # A read that started when the stream was where it is now still is one: nothing was handed on since.
        if last is None or last[:2] != (after_trade_id, self.position) or _failed(last[2]):
            read = database_sync_to_async(reads.market_state)(
                market=self.market, depth=MAX_DEPTH, after_trade_id=after_trade_id
            )
            last = self.last_read = (after_trade_id, self.position, asyncio.ensure_future(read))
        state = await asyncio.shield(last[2])  # one follower leaving must not cancel the others' read
        if self.position is None:  # the first read: hand on what came after it
            self.sequencer.reset(state.sequence)
            self._hand_on()
        return state

    def close(self) -> None:
        if self.gap_timer:
            self.gap_timer.cancel()


class Hub:
    """This process's one membership in the `feed` group, and the local followers of each market, of the tickers
    and of each user's own updates."""

    def __init__(self, layer):
        self.layer = layer
        self.channel: str | None = None
        self.markets: dict[str, MarketStream] = {}
        self.ticker_followers: set[Follower] = set()
        self.user_followers: dict[int, set[Follower]] = {}
        self.joining = asyncio.Lock()  # joins and leaves one at a time, so a leave never overtakes a join
        self.tasks: list[asyncio.Task] = []

    async def follow_market(self, market: Market, follower: Follower) -> MarketStream:
        """Hand `follower` the market's updates from now on: call before reading its state."""
        async with self.joining:
            stream = self.markets.get(market.symbol)
            if stream is None:  # in place before the join: the first update may come the moment it is done
                stream = self.markets[market.symbol] = MarketStream(market)
            stream.followers.add(follower)
            try:
                await self._join()
            except BaseException:
                stream.followers.discard(follower)
                if not stream.followers:
                    del self.markets[market.symbol]
                raise
            return stream

    async def leave_market(self, symbol: str, follower: Follower) -> None:
        async with self.joining:
            stream = self.markets.get(symbol)
            if stream is None:
                return
            stream.followers.discard(follower)
            if not stream.followers:
                del self.markets[symbol]
                stream.close()
            await self._leave_if_idle()

    async def follow_tickers(self, follower: Follower) -> None:
        async with self.joining:
            await self._join()
            self.ticker_followers.add(follower)

    async def leave_tickers(self, follower: Follower) -> None:
        async with self.joining:
            self.ticker_followers.discard(follower)
            await self._leave_if_idle()

    async def follow_user(self, user_id: int, follower: Follower) -> None:
        async with self.joining:
            await self._join()
            self.user_followers.setdefault(user_id, set()).add(follower)

    async def leave_user(self, user_id: int, follower: Follower) -> None:
        async with self.joining:
            followers = self.user_followers.get(user_id, set())
            followers.discard(follower)
            if not followers:
                self.user_followers.pop(user_id, None)
            await self._leave_if_idle()

    # --- the layer ------------------------------------------------------------------------------------------

    def _idle(self) -> bool:
        return not (self.markets or self.ticker_followers or self.user_followers)

    async def _join(self) -> None:
        if self.channel is None:
            channel = await self.layer.new_channel()
            await self.layer.group_add(FEED_GROUP, channel)
            self.channel = channel
            self.tasks = [asyncio.create_task(self._read(channel)), asyncio.create_task(self._rejoin())]

    async def _leave_if_idle(self) -> None:
        if self.channel is None or not self._idle():
            return
        await self.layer.group_discard(FEED_GROUP, self.channel)  # nobody left: stop reading until someone follows
        for task in self.tasks:
            task.cancel()
        _, running = await asyncio.wait(self.tasks, timeout=STOP_WAIT_SECONDS)
        if running:  # out of the group, it hears nothing more; a new reader starts with the next follower
            log.warning("the feed hub's reader did not stop within %s s of its cancellation", STOP_WAIT_SECONDS)
        self.channel, self.tasks = None, []

    async def _read(self, channel: str) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception:  # Redis away: the followers will see gaps and resynchronise once it is back
                if asyncio.current_task().cancelling():  # a cancellation the layer turned into an error
                    raise
                log.exception("the feed hub could not read from the channel layer")
                await asyncio.sleep(1)
                continue
            try:
                self._dispatch(message)
            except Exception:
                log.exception("the feed hub could not hand on %s", message.get("type"))

    def _dispatch(self, message: dict) -> None:
        if message["type"] == "feed.updates":
            for payload in message["payloads"]:  # in commit order
                self._hand_on(payload)

    def _hand_on(self, payload: dict) -> None:
        if payload["book"]:  # no level changed means no new sequence: nothing public to say
            stream = self.markets.get(payload["market"])
            if stream is not None:
                stream.add(payload)
            notice = TickerNotice(payload["market"], payload["sequence"])
            for follower in list(self.ticker_followers):
                follower.deliver(notice)
        if self.user_followers:
            for user_id, part in private_parts(payload).items():
                for follower in list(self.user_followers.get(user_id, ())):
                    follower.deliver(PrivateUpdate(part))

    async def _rejoin(self) -> None:
        while True:
            await asyncio.sleep(REJOIN_SECONDS)
            try:
                async with self.joining:
                    if self.channel is not None:
                        await self.layer.group_add(FEED_GROUP, self.channel)
            except Exception:
                log.exception("the feed hub could not renew its group")


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub]" = weakref.WeakKeyDictionary()


def hub_for(layer) -> Hub:
    """The running event loop's hub (one per ASGI process; tests run one loop after another)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub


def _failed(future: asyncio.Future) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)
