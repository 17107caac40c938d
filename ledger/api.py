"""Ledger endpoints: currencies and their supply, balances, transfers. Thin: validate, call one service, serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from api.base import ApiView, IdCursorPagination
from api.idempotency import idempotent
from api.schema import ERROR_EXAMPLE, IDEMPOTENCY_HEADER, PRIVATE, errors
from exchange.errors import NotFound
from ledger import selectors, services
from ledger.models import Currency
from ledger.money import parse_amount
from ledger.serializers import (
    BalanceSerializer,
    CurrencyCreateSerializer,
    CurrencySerializer,
    SupplyChangeRequestSerializer,
    SupplyChangeSerializer,
    TransferRequestSerializer,
    TransferSerializer,
)


def _currency_data(currency: Currency) -> dict:
    supply = {currency.pk: selectors.currency_supply(currency=currency)}
    return CurrencySerializer(currency, context={"supply": supply}).data


class CurrencyListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"POST": "issue"}

    @extend_schema(
        operation_id="currencies_list",
        summary="List currencies with their supply",
        responses={200: CurrencySerializer(many=True), **errors(400)},
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(Currency.objects.select_related("issuer"), request, view=self)
        supply = selectors.currencies_supply(currencies=page)
        data = CurrencySerializer(page, many=True, context={"supply": supply}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="currencies_create",
        summary="Create a currency you issue",
        request=CurrencyCreateSerializer,
        responses={201: CurrencySerializer, **errors(*PRIVATE, 409)},
    )
    def post(self, request):
        form = CurrencyCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        max_supply = data.get("max_supply")
        if max_supply is not None:
            max_supply = parse_amount(max_supply, data["decimals"], field="max_supply")
        currency = services.currency_create(
            issuer=request.user, code=data["code"], name=data["name"], decimals=data["decimals"], max_supply=max_supply
        )
        return Response(_currency_data(currency), status=status.HTTP_201_CREATED)


class CurrencyDetailView(ApiView):
    @extend_schema(operation_id="currencies_retrieve", summary="One currency", responses={200: CurrencySerializer, **errors(404)})
    def get(self, request, code: str):
        return Response(_currency_data(selectors.currency_get(code=code)))


class SupplyChangeListView(ApiView):
    pagination_class = IdCursorPagination
    @extend_schema(
        operation_id="currencies_supply_changes",
        summary="The public record of a currency's mints and burns, newest first",
        responses={200: SupplyChangeSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request, code: str):
        currency = selectors.currency_get(code=code)
        return self.paginate(selectors.supply_record(currency=currency).select_related("currency"), SupplyChangeSerializer)


class SupplyChangeView(ApiView):
    """Mint or burn (`action` comes from the URL)."""

    scopes = {"POST": "issue"}
    action = "mint"

    @extend_schema(
        request=SupplyChangeRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: SupplyChangeSerializer, **errors(*PRIVATE, 404, 409)},
    )
    @idempotent
    def post(self, request, code: str):
        currency = selectors.currency_get(code=code)
        form = SupplyChangeRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        amount = parse_amount(form.validated_data["amount"], currency.decimals)
        service = services.currency_mint if self.action == "mint" else services.currency_burn
        change = service(
            issuer=request.user,
            currency=currency,
            amount=amount,
            memo=form.validated_data["memo"],
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(SupplyChangeSerializer(change).data, status=status.HTTP_201_CREATED)


class RenounceMintingView(ApiView):
    scopes = {"POST": "issue"}

    @extend_schema(
        operation_id="currencies_renounce_minting",
        summary="Fix the supply for good: no mint will ever succeed again",
        request=None,
        responses={200: CurrencySerializer, **errors(*PRIVATE, 404)},
    )
    def post(self, request, code: str):
        currency = selectors.currency_get(code=code)
        currency = services.currency_renounce_minting(issuer=request.user, currency=currency)
        return Response(_currency_data(currency))


class BalanceListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"GET": "read"}

    @extend_schema(operation_id="balances_list", summary="Your balances", responses={200: BalanceSerializer(many=True), **errors(400, 401, 403)})
    def get(self, request):
        return self.paginate(selectors.balances_for(user=request.user).order_by("-id"), BalanceSerializer)


class TransferListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"GET": "read", "POST": "transfer"}

    @extend_schema(
        operation_id="transfers_list",
        summary="Transfers you sent or received, newest first",
        responses={200: TransferSerializer(many=True), **errors(*PRIVATE)},
    )
    def get(self, request):
        return self.paginate(selectors.transfers_for(user=request.user), TransferSerializer)

    @extend_schema(
        operation_id="transfers_create",
        summary="Send money to another user",
        request=TransferRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: TransferSerializer, **errors(*PRIVATE, 404, 409)},
        examples=[ERROR_EXAMPLE],
    )
    @idempotent
    def post(self, request):
        form = TransferRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        currency = selectors.currency_get(code=data["currency"])
        amount = parse_amount(data["amount"], currency.decimals)
        transfer = services.transfer_create(
            sender=request.user,
            recipient=selectors.user_get(username=data["recipient"]),
            currency=currency,
            amount=amount,
            memo=data["memo"],
            # Defence in depth: the service refuses a second transfer with this key even if the record were lost.
            idempotency_key=request.headers.get("Idempotency-Key"),
        )
        return Response(TransferSerializer(transfer).data, status=status.HTTP_201_CREATED)


class TransferDetailView(ApiView):
    scopes = {"GET": "read"}

    @extend_schema(operation_id="transfers_retrieve", summary="One of your transfers", responses={200: TransferSerializer, **errors(401, 403, 404)})
    def get(self, request, transfer_id: int):
        transfer = selectors.transfers_for(user=request.user).filter(pk=transfer_id).first()
        if transfer is None:
            raise NotFound("There is no such transfer.")
        return Response(TransferSerializer(transfer).data)
