"""The exchange's error codes as exceptions: catch a family (`Conflict`) or one code (`InsufficientFunds`).

Every error the API answers has the shape {"error": {"code", "message", "fields"}}; `error_from_response` turns
it into the class registered for its code, or, for a code this client does not know yet, into the class of its
HTTP status family, so new server codes never break old bots.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """Base of every error this client raises. `code` is stable and machine-readable; `message` is for people."""

    code = "error"
    status = 0

    def __init__(self, message: str = "", *, code: str | None = None, status: int | None = None,
                 fields: dict[str, list[str]] | None = None, retry_after: float | None = None):
        super().__init__(message or self.code)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields or {}
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}" if self.message else self.code
        return f"{text} {self.fields}" if self.fields else text


class ExchangeUnavailable(ExchangeError):
    """The server could not be reached, or kept failing (5xx), through every retry."""

    code = "unavailable"


# --- families by HTTP status -------------------------------------------------------------------------------------


class BadRequest(ExchangeError):
    status = 400


class AuthenticationFailed(ExchangeError):
    status = 401


class Forbidden(ExchangeError):
    status = 403


class NotFound(ExchangeError):
    code = "not_found"
    status = 404


class MethodNotAllowed(ExchangeError):
    code = "method_not_allowed"
    status = 405


class Conflict(ExchangeError):
    code = "conflict"
    status = 409


class PayloadTooLarge(ExchangeError):
    code = "payload_too_large"
    status = 413


class RateLimited(ExchangeError):
    code = "rate_limited"
    status = 429


class ServerError(ExchangeError):
    code = "server_error"
    status = 500


class ServiceUnavailable(ServerError):
    status = 503


# --- one class per documented code -------------------------------------------------------------------------------


class ValidationError(BadRequest):
    """Some fields are not valid: see .fields."""

    code = "validation_error"


class InvalidAmount(BadRequest):
    """An amount is not a valid decimal string."""

    code = "invalid_amount"


class InvalidPrice(BadRequest):
    """The price is off the market's tick or range."""

    code = "invalid_price"


class InvalidQuantity(BadRequest):
    """The quantity is off the lot or range."""

    code = "invalid_quantity"


class MalformedJson(BadRequest):
    """The body is not valid JSON."""

    code = "malformed_json"


class UnsupportedMediaType(BadRequest):
    """Send JSON."""

    code = "unsupported_media_type"


class NotAcceptable(BadRequest):
    """The server only answers JSON."""

    code = "not_acceptable"


class NotAuthenticated(AuthenticationFailed):
    """No credentials were sent."""

    code = "not_authenticated"


class InvalidApiKey(AuthenticationFailed):
    """No such API key."""

    code = "invalid_api_key"


class InvalidSignature(AuthenticationFailed):
    """Wrong secret or tampering."""

    code = "invalid_signature"


class InvalidTimestamp(AuthenticationFailed):
    """Bad X-API-Timestamp."""

    code = "invalid_timestamp"


class TimestampOutOfWindow(AuthenticationFailed):
    """The local clock is off by over 30 s."""

    code = "timestamp_out_of_window"


class SignatureReused(AuthenticationFailed):
    """A signed request was replayed."""

    code = "signature_reused"


class KeyRevoked(AuthenticationFailed):
    """The API key has been revoked."""

    code = "key_revoked"


class KeyInvalidated(AuthenticationFailed):
    """The server's pepper changed."""

    code = "key_invalidated"


class InsufficientScope(Forbidden):
    """The key lacks the needed scope."""

    code = "insufficient_scope"


class IpNotAllowed(Forbidden):
    """The key may not be used from this address."""

    code = "ip_not_allowed"


class PermissionDenied(Forbidden):
    """Not allowed (e.g. not the issuer)."""

    code = "permission_denied"


class InsufficientFunds(Conflict):
    """Not enough available balance."""

    code = "insufficient_funds"


class IdempotencyKeyReused(Conflict):
    """The Idempotency-Key was used with another body."""

    code = "idempotency_key_reused"


class IdempotencyKeyInProgress(Conflict):
    """The first request is still running."""

    code = "idempotency_key_in_progress"


class OrderNotOpen(Conflict):
    """The order is already filled or cancelled."""

    code = "order_not_open"


class MintingRenounced(Conflict):
    """The currency's supply is fixed."""

    code = "minting_renounced"


class MaxSupplyExceeded(Conflict):
    """Past the currency's max supply."""

    code = "max_supply_exceeded"


class MarketHalted(ServiceUnavailable):
    """Trading on the market is halted."""

    code = "market_halted"


_FAMILIES: list[type[ExchangeError]] = [
    BadRequest, AuthenticationFailed, Forbidden, NotFound, MethodNotAllowed, Conflict, PayloadTooLarge,
    RateLimited, ServiceUnavailable, ServerError,
]
BY_CODE: dict[str, type[ExchangeError]] = {
    cls.code: cls
    for cls in [
        NotFound, MethodNotAllowed, PayloadTooLarge, RateLimited,
        ValidationError, InvalidAmount, InvalidPrice, InvalidQuantity, MalformedJson, UnsupportedMediaType,
        NotAcceptable, NotAuthenticated, InvalidApiKey, InvalidSignature, InvalidTimestamp, TimestampOutOfWindow,
        SignatureReused, KeyRevoked, KeyInvalidated, InsufficientScope, IpNotAllowed, PermissionDenied,
        InsufficientFunds, IdempotencyKeyReused, IdempotencyKeyInProgress, OrderNotOpen, MintingRenounced,
        MaxSupplyExceeded, MarketHalted,
    ]
}


def error_from_response(status: int, body: object, *, retry_after: float | None = None) -> ExchangeError:
    """The exception for an error response (any body: a proxy's HTML 502 must not crash the parser)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code") or "")
    fields = error.get("fields") if isinstance(error.get("fields"), dict) else {}
    cls = BY_CODE.get(code) or _family(status)
    return cls(str(error.get("message") or f"HTTP {status}"), code=code or None, status=status, fields=fields,
               retry_after=retry_after)


def _family(status: int) -> type[ExchangeError]:
    for cls in _FAMILIES:
        if cls.status == status:
            return cls
    return ServerError if status >= 500 else BadRequest


class FeedError(ExchangeError):
    """An error frame from the websocket feed (bad subscription, not authenticated, ...); the feed stays usable."""
