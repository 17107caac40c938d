"""Send committed market updates through the channel layer, so every ASGI process's subscribers hear them.

One committed change is one message to the group `feed`, which every process's hub joins while it has
subscribers (realtime/hub.py). The hub hands the public part (the changed levels and the trades under the new book
sequence) to that market's followers, a notice to the all-markets `tickers` followers, and each user's own orders,
fills and balances (`private_parts`) only to that user's connections, so a private subscriber never receives, and
never has to filter out, anyone else's. One message however many users a change touched: each `group_send` costs
the publishing process CPU (with Redis, one PUBLISH), and a group per market, per user and for the tickers made
five or six per order.

`group_send` only hands the message to the layer (fire and forget): a slow or stuck subscriber never holds up the
order that caused it. With the Redis layer the caller does not even wait for Redis: the message goes to this
process's background sender (realtime/sender.py), which sends in order. A hub that misses an update sees the gap
in the sequence, and its subscribers resynchronise (realtime/consumers.py).
"""

import logging
from collections import defaultdict

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

from realtime.sender import BackgroundSender

log = logging.getLogger(__name__)

FEED_GROUP = "feed"


def publish_market_update(payload: dict) -> None:
    """Send one committed update to every process. Called from transaction.on_commit; returns without waiting."""
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
    return [(FEED_GROUP, {"type": "feed.update", "payload": payload})]


def private_parts(payload: dict) -> dict[int, dict]:
    """Each touched user's own orders, fills and balances from one update, without the user ids."""
    parts: dict[int, dict] = defaultdict(lambda: {"market": payload["market"], "orders": [], "fills": [], "balances": []})
    for kind in ("orders", "fills", "balances"):
        for item in payload[kind]:
            item = dict(item)
            parts[item.pop("user_id")][kind].append(item)
    return dict(parts)


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    for group, message in messages:
        await layer.group_send(group, message)
