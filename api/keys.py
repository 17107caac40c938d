"""API key use cases: create, revoke, derive the secret, verify a request's signature.

The secret handed to the user is HMAC-SHA256(pepper, key_id:salt). The database keeps the salt and SHA-256 of the
secret, never the secret; verifying a signature re-derives it with the pepper, which lives in settings only.
Rotating the pepper therefore invalidates every key (they fail with `key_invalidated`).
"""

import hashlib
import hmac
import ipaddress
import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from api.models import ApiKey
from exchange.errors import NotFound, ValidationFailed
from ledger.services import activity_record

MAX_KEYS_PER_USER = 20
MAX_ALLOWED_IPS = 20


def _pepper() -> bytes:
    return (getattr(settings, "API_KEY_PEPPER", "") or settings.SECRET_KEY).encode()


def key_secret(key: ApiKey) -> str:
    """The key's signing secret, re-derived (it is never stored)."""
    return hmac.new(_pepper(), f"{key.key_id}:{key.salt}".encode(), hashlib.sha256).hexdigest()


def secret_matches(key: ApiKey, secret: str) -> bool:
    return hmac.compare_digest(hashlib.sha256(secret.encode()).hexdigest(), key.secret_hash)


def signature_for(*, secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, timestamp + METHOD + path_with_query + body)): what clients compute too."""
    message = f"{timestamp}{method.upper()}{path}".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@transaction.atomic
def key_create(*, user: User, name: str, scopes: list[str], allowed_ips: list[str] | None = None) -> tuple[ApiKey, str]:
    """Create a key; return it with its secret, which is shown this once and never again."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not 0 < len(name) <= 64:
        errors["name"] = ["Give a name of 1 to 64 characters."]
    unknown = set(scopes) - set(ApiKey.Scope.values)
    if not scopes or unknown:
        errors["scopes"] = [f"Choose one or more of {', '.join(ApiKey.Scope.values)}."]
    ips = []
    for text in allowed_ips or []:
        try:
            ips.append(str(ipaddress.ip_address(str(text).strip())))
        except ValueError:
            errors["allowed_ips"] = [f"{str(text)[:45]} is not an IP address."]
    if len(ips) > MAX_ALLOWED_IPS:
        errors["allowed_ips"] = [f"At most {MAX_ALLOWED_IPS} addresses."]
    if errors:
        raise ValidationFailed(fields=errors)
    # Lock the user row so two creations cannot both pass the limit.
    User.objects.select_for_update().filter(pk=user.pk).get()
    if ApiKey.objects.filter(user=user, revoked_at__isnull=True).count() >= MAX_KEYS_PER_USER:
        raise ValidationFailed(
            f"At most {MAX_KEYS_PER_USER} active keys; revoke one first.", fields={"name": ["Too many keys."]}
        )
    key = ApiKey(
        user=user,
        key_id="ak_" + secrets.token_hex(12),
        name=name,
        salt=secrets.token_hex(16),
        scopes=sorted(set(scopes), key=ApiKey.Scope.values.index),
        allowed_ips=ips,
    )
    secret = key_secret(key)
    key.secret_hash = hashlib.sha256(secret.encode()).hexdigest()
    key.save()
    activity_record(actor=user, action="key_create", subject=f"key:{key.key_id}", scopes=key.scopes, name=name)
    return key, secret


def key_revoke(*, user: User, key_id: str) -> ApiKey:
    """Revoke one of the user's keys at once; revoking twice is harmless."""
    key = ApiKey.objects.filter(user=user, key_id=key_id).first()
    if key is None:
        raise NotFound("There is no such API key.", fields={"key": ["No such key."]})
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=key.revoked_at):
            activity_record(actor=user, action="key_revoke", subject=f"key:{key.key_id}")
    return key


def keys_for(*, user: User):
    return ApiKey.objects.filter(user=user).order_by("-id")
