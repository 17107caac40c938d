"""API endpoints of this app (server time, API keys, JSON 404s) and the browser pages for managing keys."""

import time

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api import keys
from api.base import ApiView, IdCursorPagination
from api.models import ApiKey
from api.permissions import InsufficientScope
from api.schema import PRIVATE, errors
from api.serializers import ApiKeyCreatedSerializer, ApiKeyRequestSerializer, ApiKeySerializer, ServerTimeSerializer
from exchange.api_errors import error_body
from exchange.errors import DomainError


class ServerTimeView(ApiView):
    @extend_schema(operation_id="time", summary="The server's clock", responses={200: ServerTimeSerializer})
    def get(self, request):
        return Response({"time": timezone.now(), "epoch_ms": int(time.time() * 1000)})


class KeyListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"GET": "read", "POST": "read"}

    @extend_schema(operation_id="keys_list", summary="Your API keys (never their secrets)", responses={200: ApiKeySerializer(many=True), **errors(*PRIVATE)})
    def get(self, request):
        return self.paginate(keys.keys_for(user=request.user), ApiKeySerializer)

    @extend_schema(
        operation_id="keys_create",
        summary="Create an API key; the secret is in this response only",
        description="Through an API key, a new key may only carry scopes the calling key has.",
        request=ApiKeyRequestSerializer,
        responses={201: ApiKeyCreatedSerializer, **errors(*PRIVATE)},
    )
    def post(self, request):
        form = ApiKeyRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if isinstance(request.auth, ApiKey) and not set(data["scopes"]) <= set(request.auth.scopes):
            raise InsufficientScope("A key can only create keys with scopes it has itself.")
        key, secret = keys.key_create(user=request.user, **data)
        return Response({**ApiKeySerializer(key).data, "secret": secret}, status=status.HTTP_201_CREATED)


class KeyDetailView(ApiView):
    scopes = {"DELETE": "read"}

    @extend_schema(operation_id="keys_revoke", summary="Revoke one of your keys at once", responses={200: ApiKeySerializer, **errors(401, 403, 404)})
    def delete(self, request, key_id: str):
        return Response(ApiKeySerializer(keys.key_revoke(user=request.user, key_id=key_id)).data)


class NotFoundView(ApiView):
    """Any other path under /api/: the JSON 404, whatever the method."""

    schema = None

    def http_method_not_allowed(self, request, *args, **kwargs):
        return Response(error_body("not_found", "There is no such API endpoint."), status=status.HTTP_404_NOT_FOUND)


# --- browser pages ----------------------------------------------------------------------------------------------


@login_required
def key_list(request):
    """The user's keys and a form to create one; a new key's secret is shown on this response only."""
    context = {"scopes": ApiKey.Scope.choices, "created": None, "secret": None, "errors": {}, "form": {}}
    if request.method == "POST":
        scopes = request.POST.getlist("scopes")
        ips = request.POST.get("allowed_ips", "").replace(",", " ").split()
        context["form"] = {"name": request.POST.get("name", ""), "scopes": scopes, "allowed_ips": " ".join(ips)}
        try:
            context["created"], context["secret"] = keys.key_create(
                user=request.user, name=request.POST.get("name", ""), scopes=scopes, allowed_ips=ips
            )
        except DomainError as error:
            context["errors"] = error.fields or {"name": [error.message]}
    context["keys"] = keys.keys_for(user=request.user)
    response = render(request, "api/keys.html", context, status=400 if context["errors"] else 200)
    response["Cache-Control"] = "no-store"  # the page may carry a secret
    return response


@login_required
@require_POST
def key_revoke(request, key_id: str):
    try:
        key = keys.key_revoke(user=request.user, key_id=key_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"The key “{key.name}” is revoked: requests signed with it now fail.")
    return redirect("api_keys")
