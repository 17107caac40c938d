"""Websocket routes: one endpoint, /ws/v1, for every stream (realtime/consumers.py, docs/websocket.md)."""

from channels.routing import URLRouter
from channels.security.websocket import OriginValidator
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.urls import path

from realtime.auth import SessionUserMiddleware
from realtime.consumers import FeedConsumer

websocket_urlpatterns = [path("ws/v1", FeedConsumer.as_asgi())]


class BrowserOriginValidator(OriginValidator):
    """Channels' AllowedHostsOriginValidator, except that a handshake without an Origin header is let through.

    The check exists because a page on a foreign site could open a feed carrying the visitor's session cookie;
    browsers always send Origin, so that attack always has one, and it is refused unless it is one of
    ALLOWED_HOSTS. Bots (the `websockets` library, curl) send no Origin and authenticate with a signed API key.
    """

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


websocket_application = BrowserOriginValidator(
    CookieMiddleware(SessionUserMiddleware(URLRouter(websocket_urlpatterns))), settings.ALLOWED_HOSTS
)
