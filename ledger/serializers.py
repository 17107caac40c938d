"""API shapes of the ledger: decimal strings out (formatted with each currency), validated input in."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.fields import AmountField, DecimalStringField
from api.strict import RequestSerializer
from ledger.models import Account, Currency, SupplyChange, Transfer
from ledger.money import MAX_DECIMALS


class CurrencySerializer(serializers.Serializer):
    """A currency with its public supply figures; `context["supply"]` maps currency id to SupplyFigures."""

    code = serializers.CharField()
    name = serializers.CharField()
    decimals = serializers.IntegerField()
    issuer = serializers.CharField(source="issuer.username")
    total_supply = serializers.SerializerMethodField()
    circulating_supply = serializers.SerializerMethodField()
    holders = serializers.SerializerMethodField()
    max_supply = AmountField(currency="")
    minting_renounced = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def _supply(self, currency: Currency):
        return self.context["supply"][currency.pk]

    @extend_schema_field({"type": "string", "example": "1000.00"})
    def get_total_supply(self, currency: Currency) -> str:
        return currency.format(self._supply(currency).total)

    @extend_schema_field({"type": "string", "example": "250.00"})
    def get_circulating_supply(self, currency: Currency) -> str:
        return currency.format(self._supply(currency).circulating)

    def get_holders(self, currency: Currency) -> int:
        return self._supply(currency).holders

    def get_minting_renounced(self, currency: Currency) -> bool:
        return not currency.can_mint


class CurrencyCreateSerializer(RequestSerializer):
    code = serializers.RegexField(r"^[A-Z0-9]{2,12}$", help_text="2-12 upper-case letters or digits.")
    name = serializers.CharField(max_length=64)
    decimals = serializers.IntegerField(min_value=0, max_value=MAX_DECIMALS, default=2)
    max_supply = DecimalStringField(required=False, allow_null=True, help_text="Optional cap, never passed.")


class SupplyChangeSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency.code")
    amount = AmountField(currency="currency")
    time = serializers.DateTimeField(source="created_at")

    class Meta:
        model = SupplyChange
        fields = ["id", "currency", "kind", "amount", "memo", "time"]


class SupplyChangeRequestSerializer(RequestSerializer):
    amount = DecimalStringField()
    memo = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)


class BalanceSerializer(serializers.ModelSerializer):
    currency = serializers.CharField(source="currency.code")
    balance = AmountField(currency="currency")
    held = AmountField(currency="currency")
    available = AmountField(currency="currency")

    class Meta:
        model = Account
        fields = ["currency", "balance", "held", "available"]


class TransferSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.username")
    recipient = serializers.CharField(source="recipient.username")
    currency = serializers.CharField(source="currency.code")
    amount = AmountField(currency="currency")

    class Meta:
        model = Transfer
        fields = ["id", "sender", "recipient", "currency", "amount", "memo", "created_at"]


class TransferRequestSerializer(RequestSerializer):
    recipient = serializers.CharField(max_length=150, help_text="The recipient's username.")
    currency = serializers.CharField(max_length=12)
    amount = DecimalStringField()
    memo = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
