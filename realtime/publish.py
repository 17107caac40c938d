"""Send committed market updates through the channel layer, so every ASGI process's subscribers hear them."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def publish_market_update(payload: dict) -> None:
    """Fan one committed update out to the market's groups. Called from transaction.on_commit."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            f"market.{payload['market']}", {"type": "market.update", "payload": payload}
        )
    except Exception:  # the money moved already; a feed hiccup must not turn it into an error
        log.exception("publishing the update of %s failed", payload["market"])
