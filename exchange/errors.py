"""Domain errors: each carries a stable machine-readable code and the HTTP status it answers with.

Services raise these; the API's exception handler and the page views turn them into the one error shape.
"""


class DomainError(Exception):
    code = "error"
    status = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None):
        self.message = message or self.default_message
        self.fields = fields or {}
        super().__init__(self.message)

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class ValidationFailed(DomainError):
    code = "validation_error"
    default_message = "Some fields are not valid."


class InvalidAmount(DomainError):
    code = "invalid_amount"
    default_message = "The amount is not valid."


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = "You may not do that."


class InsufficientFunds(DomainError):
    code = "insufficient_funds"
    status = 409
    default_message = "Insufficient funds."


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = "The request conflicts with the current state."


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    default_message = "This idempotency key was already used for a different request."


class MintingRenounced(Conflict):
    code = "minting_renounced"
    default_message = "The issuer has renounced minting: the supply of this currency is fixed."


class MaxSupplyExceeded(Conflict):
    code = "max_supply_exceeded"
    default_message = "This would pass the currency's maximum supply."


class InvalidPrice(DomainError):
    code = "invalid_price"
    default_message = "The price is not valid for this market."


class InvalidQuantity(DomainError):
    code = "invalid_quantity"
    default_message = "The quantity is not valid for this market."


class MarketHalted(DomainError):
    code = "market_halted"
    status = 503
    default_message = "Trading on this market is halted."


class OrderNotOpen(Conflict):
    code = "order_not_open"
    default_message = "The order is already filled, cancelled or rejected."


class TooManyOpenOrders(Conflict):
    code = "too_many_open_orders"
    default_message = "You have too many open orders in this market; cancel some first."
