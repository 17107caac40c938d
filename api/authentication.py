"""Signed API-key requests: X-API-Key, X-API-Timestamp (unix ms) and X-API-Signature.

The signature is hex(HMAC-SHA256(secret, timestamp + METHOD + path_with_query + body)); it is accepted within
SIGNATURE_WINDOW_MS of the server's clock, compared in constant time, and each signature is accepted once (a
captured request cannot be replayed inside the window).
"""

import hmac
import time
from datetime import timedelta
from functools import cache as once

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from api.keys import key_secret, secret_matches, signature_for
from api.models import ApiKey
from exchange.db import run_statements

SIGNATURE_WINDOW_MS = 30_000
LAST_USED_RESOLUTION = timedelta(minutes=1)  # at most one write per key per minute


class AuthFailed(exceptions.AuthenticationFailed):
    def __init__(self, code: str, message: str):
        super().__init__(message, code)


class IpNotAllowed(exceptions.PermissionDenied):
    default_code = "ip_not_allowed"
    default_detail = "This API key may not be used from your address."


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        key_id = request.headers.get("X-API-Key")
        if key_id is None:
            return None  # not a key request: the session may authenticate it
        key = key_with_user(key_id[:32])
        if key is None or not key.user.is_active:
            raise AuthFailed("invalid_api_key", "No such API key.")
        if key.revoked_at is not None:
            raise AuthFailed("key_revoked", "This API key has been revoked.")
        timestamp = request.headers.get("X-API-Timestamp", "")
        signature = request.headers.get("X-API-Signature", "")
        if not timestamp.isdigit() or len(timestamp) > 16:
            raise AuthFailed("invalid_timestamp", "Send X-API-Timestamp as unix time in milliseconds.")
        if abs(time.time() * 1000 - int(timestamp)) > SIGNATURE_WINDOW_MS:
            raise AuthFailed("timestamp_out_of_window", "X-API-Timestamp is more than 30 s from the server's clock.")
        secret = key_secret(key)
        if not secret_matches(key, secret):
            raise AuthFailed("key_invalidated", "This API key no longer matches the server's pepper; create a new one.")
        expected = signature_for(
            secret=secret, timestamp=timestamp, method=request.method, path=request.get_full_path(), body=request.body
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise AuthFailed("invalid_signature", "The signature does not match the request.")
        if key.allowed_ips and client_ip(request) not in key.allowed_ips:
            raise IpNotAllowed()
        # Once per signature: add() fails if this exact signature was seen within the window.
        if not cache.add(f"api-sig:{key.pk}:{expected}", 1, timeout=2 * SIGNATURE_WINDOW_MS // 1000):
            raise AuthFailed("signature_reused", "This signed request was already received; sign each request anew.")
        _touch(key)
        return key.user, key

    def authenticate_header(self, request) -> str:
        return 'X-API-Key realm="api"'  # makes DRF answer 401 (not 403) when credentials are missing


def key_with_user(key_id: str) -> ApiKey | None:
    """The key and its user (as select_related would load them) in one short query.

    Every signed request looks its key up; through the ORM, composing that query cost more CPU than the rest of
    authentication. The SQL and each column's converters (the ORM's own, so the values are the same) are built once.
    """
    sql, converters, split = _key_lookup(connection.vendor)
    [rows] = run_statements([(sql, [key_id])])  # the order path's cursor: prepared on the server, times read in C
    if not rows:
        return None
    [row] = rows
    values = []
    for value, (functions, column) in zip(row, converters, strict=True):
        for function in functions:
            value = function(value, column, connection)
        values.append(value)
    key_fields, user_fields = _fields()
    key = ApiKey.from_db(connection.alias, [field.attname for field in key_fields], values[:split])
    key.user = get_user_model().from_db(connection.alias, [field.attname for field in user_fields], values[split:])
    return key


def _fields():
    return ApiKey._meta.concrete_fields, get_user_model()._meta.concrete_fields


@once
def _key_lookup(vendor: str) -> tuple[str, list, int]:
    name = connection.ops.quote_name
    key_fields, user_fields = _fields()
    columns, converters = [], []
    for alias, fields in (("k", key_fields), ("u", user_fields)):
        for field in fields:
            column = field.get_col(alias)
            columns.append(f"{alias}.{name(field.column)}")
            converters.append((connection.ops.get_db_converters(column) + column.get_db_converters(connection), column))
    user = get_user_model()._meta
    sql = (
        f"SELECT {', '.join(columns)} FROM {name(ApiKey._meta.db_table)} k "
        f"JOIN {name(user.db_table)} u ON u.{name(user.pk.column)} = k.{name(ApiKey._meta.get_field('user').column)} "
        f"WHERE k.{name(ApiKey._meta.get_field('key_id').column)} = %s"
    )
    return sql, converters, len(key_fields)


def client_ip(request) -> str:
    # The direct peer. Behind a reverse proxy, set it to pass the client address as REMOTE_ADDR (uvicorn
    # --proxy-headers does), so a forged X-Forwarded-For can never pass the allow-list.
    return request.META.get("REMOTE_ADDR", "")


def _touch(key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
