"""API keys and idempotency records.

An API key's secret is never stored: it is derived on demand from the key's random salt and the server's pepper
(settings.API_KEY_PEPPER), and only its SHA-256 is kept to check the derivation. A copy of the database alone
therefore cannot sign requests (see api/keys.py).
"""

from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        READ = "read", "Read balances, orders, fills and transfers"
        TRADE = "trade", "Place and cancel orders"
        TRANSFER = "transfer", "Send money to other users"
        ISSUE = "issue", "Create currencies and markets, mint, burn"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    key_id = models.CharField(max_length=32, unique=True)  # public: sent as X-API-Key
    name = models.CharField(max_length=64)
    salt = models.CharField(max_length=64)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    allowed_ips = models.JSONField(default=list, blank=True)  # empty = any address
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_id})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first response to a money-moving request sent with an Idempotency-Key, replayed for its retries.

    Created (pending, status null) before the effect runs, so a concurrent duplicate finds it and waits; filled in
    with the response once the effect has committed; deleted if the request failed, since it then changed nothing.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.TextField(blank=True)  # the rendered JSON, so a replay is byte-for-byte the first answer
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_per_user")]
