"""Who is on the other end of a websocket: the browser session's user (`SessionUserMiddleware` sets scope["user"])
or the owner of a signed API key.

A key signs the opening request the way the REST API's requests are signed (api/authentication.py):
hex(HMAC-SHA256(secret, timestamp_ms + "GET" + "/ws/v1")), sent as the X-API-Key, X-API-Timestamp and
X-API-Signature headers or, for clients that cannot set headers on a websocket, as the `api_key`, `timestamp` and
`signature` query parameters. The key needs the `read` scope, is refused once revoked or from an address outside
its allow-list, and each signature opens one connection only.
"""

import hmac
import time
from importlib import import_module
from urllib.parse import parse_qs

from channels.auth import get_user
from django.apps import apps
from django.conf import settings
from django.core.cache import cache

WEBSOCKET_PATH = "/ws/v1"


def credentials(scope) -> tuple[str, str, str] | None:
    """The (key, timestamp, signature) the client sent, from headers or else the query string."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    if "x-api-key" in headers:
        return headers["x-api-key"], headers.get("x-api-timestamp", ""), headers.get("x-api-signature", "")
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if "api_key" in query:
        return query["api_key"][0], query.get("timestamp", [""])[0], query.get("signature", [""])[0]
    return None


def user_for_key(key_id: str, timestamp: str, signature: str, client_ip: str):
    """The key's owner if the signature is good, fresh and unused; else None. Runs in a thread (it queries)."""
    if not apps.is_installed("api"):
        return None
    from api.authentication import SIGNATURE_WINDOW_MS
    from api.keys import key_secret, secret_matches, signature_for
    from api.models import ApiKey

    if not timestamp.isdigit() or len(timestamp) > 16 or abs(time.time() * 1000 - int(timestamp)) > SIGNATURE_WINDOW_MS:
        return None
    key = ApiKey.objects.select_related("user").filter(key_id=key_id[:32], revoked_at__isnull=True).first()
    if key is None or not key.user.is_active or ApiKey.Scope.READ not in key.scopes:
        return None
    secret = key_secret(key)
    expected = signature_for(secret=secret, timestamp=timestamp, method="GET", path=WEBSOCKET_PATH, body=b"")
    if not secret_matches(key, secret) or not hmac.compare_digest(expected, signature.lower()):
        return None
    if key.allowed_ips and client_ip not in key.allowed_ips:
        return None
    if not cache.add(f"api-sig:{key.pk}:{expected}", 1, timeout=2 * SIGNATURE_WINDOW_MS // 1000):
        return None  # replayed
    return key.user


class SessionUserMiddleware:
    """scope["user"] from the browser's session cookie (scope["cookies"], Channels' CookieMiddleware), read once.

    Channels' SessionMiddleware does this too, but also wraps the connection's `send`, to save a session changed
    while the socket is open, at a cost on every frame sent. The feed only reads the session, so here `send` goes
    through untouched.
    """

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        store = import_module(settings.SESSION_ENGINE).SessionStore
        scope = {**scope, "session": store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))}
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)
