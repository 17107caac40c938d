"""Send committed market updates through the channel layer, so every ASGI process's subscribers hear them.

Committed changes go to the group `feed`, which every process's hub joins while it has subscribers
(realtime/hub.py): with Redis, everything this process committed since its last send is one message, so an order
writer's batch of 64 orders is one PUBLISH, not 64. The hub hands the public part (the changed levels and the
trades under the new book sequence) to that market's followers, a notice to the all-markets `tickers` followers,
and each user's own orders, fills and balances (`private_parts`) only to that user's connections, so a private
subscriber never receives, and never has to filter out, anyone else's. One message however many users a change
touched: each `group_send` costs the publishing process CPU (with Redis, one PUBLISH), and a group per market, per
user and for the tickers made five or six per order.

`group_send` only hands the message to the layer (fire and forget): a slow or stuck subscriber never holds up the
order that caused it. With the Redis layer the caller does not even wait for Redis: the update goes to this
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
            async_to_sync(layer.group_send)(FEED_GROUP, feed_message([payload]))
        except Exception:  # the money moved already; a feed hiccup must not turn it into an error
            log.exception("publishing the update of %s failed", payload["market"])
        return
    sender.put(payload)


async def _send_queued(payloads: list[dict]) -> None:
    """What committed since the last send, in commit order, as one message: one PUBLISH however many orders an
    order writer's batch (or a busy process) committed."""
    await get_channel_layer().group_send(FEED_GROUP, feed_message(payloads))


sender = BackgroundSender(_send_queued)


def feed_message(payloads: list[dict]) -> dict:
    return {"type": "feed.updates", "payloads": payloads}


def private_parts(payload: dict) -> dict[int, dict]:
    """Each touched user's own orders, fills and balances from one update, without the user ids."""
    parts: dict[int, dict] = defaultdict(lambda: {"market": payload["market"], "orders": [], "fills": [], "balances": []})
    for kind in ("orders", "fills", "balances"):
        for item in payload[kind]:
            item = dict(item)
            parts[item.pop("user_id")][kind].append(item)
    return dict(parts)
