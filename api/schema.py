"""OpenAPI pieces: the error component, the signed-key security scheme, and helpers the views share."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework import serializers

SIGNING = """
## Authentication

Public market data needs no credentials. Private endpoints accept a browser session (with the CSRF token on
unsafe methods) or a **signed API key**:

| header | value |
| --- | --- |
| `X-API-Key` | the key id, such as `ak_3f...` |
| `X-API-Timestamp` | the current unix time in milliseconds |
| `X-API-Signature` | `hex(HMAC-SHA256(secret, timestamp + METHOD + path_with_query + body))` |

`path_with_query` is the path as sent, such as `/api/v1/orders?market=GOLD-BUCK`; `body` is the exact bytes
sent (empty for GET). The timestamp must be within 30 s of the server's clock and each signed request is
accepted once. Keys carry scopes: `read` (balances, orders, fills, transfers), `trade` (place and cancel
orders), `transfer` (send money), `issue` (currencies, markets, mint, burn); an optional IP allow-list.

```python
import hashlib, hmac, json, time, httpx
KEY, SECRET, BASE = "ak_...", "...", "http://127.0.0.1:8000"
def call(method, path, payload=None):
    body = json.dumps(payload).encode() if payload is not None else b""
    ts = str(int(time.time() * 1000))
    sig = hmac.new(SECRET.encode(), ts.encode() + method.encode() + path.encode() + body, hashlib.sha256).hexdigest()
    headers = {"X-API-Key": KEY, "X-API-Timestamp": ts, "X-API-Signature": sig, "Content-Type": "application/json"}
    return httpx.request(method, BASE + path, content=body, headers=headers).json()
print(call("POST", "/api/v1/orders", {"market": "GOLD-BUCK", "side": "buy", "type": "limit",
                                      "quantity": "1.000", "price": "25.00", "client_order_id": "bot-1"}))
```

## Conventions

Amounts and prices are decimal strings (`"12.50"`); numbers are refused with `invalid_amount`. Times are
ISO-8601 UTC. Lists are cursor-paginated: follow `next`; `limit` is at most 200. Every error has the shape
`{"error": {"code", "message", "fields"}}`. Money-moving POSTs (transfers, mint, burn, orders) take an
`Idempotency-Key` header: the same key and body replay the first response (header `Idempotent-Replayed: true`);
the same key with another body answers 409 `idempotency_key_reused`. Responses carry `X-RateLimit-Limit` and
`X-RateLimit-Remaining`; past the limit the answer is 429 `rate_limited` with `Retry-After`.
"""


def describe(result, generator, request, public):
    """drf-spectacular postprocessing hook: the signing guide and conventions go into info.description."""
    result["info"]["description"] = result["info"].get("description", "") + "\n" + SIGNING
    return result


class ScopedAutoSchema(AutoSchema):
    """Public operations (no scope needed) declare no security; private ones list the key and the session."""

    def get_auth(self):
        from api.permissions import required_scope

        if required_scope(self.view, self.method) is None:
            return []
        return super().get_auth()


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "signedApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "Also send X-API-Timestamp and X-API-Signature; see the description above.",
        }


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, such as insufficient_funds.")
    message = serializers.CharField(help_text="A human-readable explanation.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per-field messages, when fields are at fault.",
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()

    class Meta:
        ref_name = "Error"


_MEANING = {
    400: "Invalid input: validation_error, invalid_amount, invalid_price, invalid_quantity, malformed_json.",
    401: "not_authenticated, invalid_api_key, invalid_signature, invalid_timestamp, timestamp_out_of_window, "
    "signature_reused, key_revoked.",
    403: "insufficient_scope, ip_not_allowed, permission_denied (e.g. CSRF failed, not the issuer).",
    404: "not_found: no such object, or not yours.",
    409: "insufficient_funds, conflict, idempotency_key_reused, idempotency_key_in_progress, order_not_open, "
    "minting_renounced, max_supply_exceeded.",
    413: "payload_too_large.",
    429: "rate_limited: see Retry-After.",
    503: "market_halted; order_status_unknown (the market's order writer did not answer: the order may or may not "
    "stand, so place it again with the same client_order_id, or list your orders); service_unavailable (nothing "
    "was placed; try again).",
}


def errors(*statuses: int) -> dict:
    """extend_schema `responses` entries for the given error statuses (429 is added everywhere)."""
    return {status: OpenApiResponse(ErrorSerializer, description=_MEANING[status]) for status in (*statuses, 429)}


PRIVATE = (400, 401, 403)

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="1-64 characters. A retry with the same key and body replays the first response, with one effect.",
)

ERROR_EXAMPLE = OpenApiExample(
    "insufficient funds",
    value={"error": {"code": "insufficient_funds", "message": "Not enough BUCK: 10.00 available."}},
    response_only=True,
    status_codes=["409"],
)
