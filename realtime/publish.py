"""Send committed market updates through the channel layer, so every ASGI process's subscribers hear them.

One committed change becomes at most three kinds of group message:
- `market.<SYMBOL>`: the public part (changed levels and trades under the new book sequence), for book, trades,
  ticker and candle subscribers of that market;
- `tickers`: a one-line notice that a market changed, for the all-markets ticker stream;
- `user.<id>`: that user's own orders, fills and balances, so a private subscriber never receives, and never has
  to filter out, anyone else's.
`group_send` only hands the message to the layer (fire and forget): a slow or stuck subscriber never holds up the
order that caused it. The layer drops what a full subscriber channel cannot take; that subscriber then sees a
gap in the sequence and resynchronises (realtime/consumers.py). With the Redis layer the caller does not even wait
for Redis: the messages go to this process's background sender (realtime/sender.py), which sends them in order.
"""

import logging
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from realtime.sender import BackgroundSender

log = logging.getLogger(__name__)

TICKERS_GROUP = "tickers"


def market_group(symbol: str) -> str:
    return f"market.{symbol}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def publish_market_update(payload: dict) -> None:
    """Fan one committed update out to its groups. Called from transaction.on_commit; returns without waiting."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # Its queues belong to the caller's event loop (tests, `make run`): send from here.
        try:
            async_to_sync(_send_all)(layer, _messages(payload))
        except Exception:  # the money moved already; a feed hiccup must not turn it into an error
            log.exception("publishing the update of %s failed", payload["market"])
        return
    sender.put(_messages(payload))


async def _send_batches(batches: list[list[tuple[str, dict]]]) -> None:
    layer = get_channel_layer()
    for messages in batches:
        await _send_all(layer, messages)


sender = BackgroundSender(_send_batches)


def _messages(payload: dict) -> list[tuple[str, dict]]:
    symbol = payload["market"]
    messages = []
    # No level changed means no new sequence (e.g. an IOC order that met nothing): nothing public to say.
    if payload["book"]:
        public = {key: payload[key] for key in ("market", "sequence", "book", "trades")}
        messages.append((market_group(symbol), {"type": "market.update", "payload": public}))
        messages.append((TICKERS_GROUP, {"type": "tickers.update", "market": symbol, "sequence": payload["sequence"]}))
    private: dict[int, dict] = defaultdict(lambda: {"market": symbol, "orders": [], "fills": [], "balances": []})
    for kind in ("orders", "fills", "balances"):
        for item in payload[kind]:
            item = dict(item)
            private[item.pop("user_id")][kind].append(item)
    for user_id, update in private.items():
        messages.append((user_group(user_id), {"type": "user.update", "payload": update}))
    return messages


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)
