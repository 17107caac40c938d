"""Scopes: a view names the scope each method needs; API keys must carry it, the browser session has them all."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from api.models import ApiKey


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class HasScope(BasePermission):
    """Allow anonymous access where the view needs no scope; otherwise an authenticated user whose key has it.

    Views set `scopes = {"GET": "read", "POST": "trade", ...}`; methods missing there are public.
    """

    def has_permission(self, request, view) -> bool:
        needed = required_scope(view, request.method)
        if needed is None:
            return True
        if not (request.user and request.user.is_authenticated):
            raise exceptions.NotAuthenticated()
        key = request.auth
        if isinstance(key, ApiKey) and needed not in key.scopes:
            raise InsufficientScope(f"This API key lacks the '{needed}' scope.")
        return True


def required_scope(view, method: str) -> str | None:
    scopes = getattr(view, "scopes", {})
    if method in ("HEAD", "OPTIONS"):
        method = "GET"
    return scopes.get(method)
