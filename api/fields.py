"""Serializer fields for money: decimal strings in and out, minor units inside."""

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from exchange.errors import InvalidAmount

DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_DECIMAL = re.compile(DECIMAL_PATTERN)
DECIMAL_SCHEMA = {"type": "string", "pattern": DECIMAL_PATTERN, "example": "12.50"}


@extend_schema_field({**DECIMAL_SCHEMA, "maxLength": 30})
class DecimalStringField(serializers.Field):
    """A plain positive decimal string. Numbers (floats or integers) are refused with `invalid_amount`.

    It only checks the form; the view parses it with the currency's decimals (ledger.money.parse_amount), which
    knows how many places are allowed.
    """

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) > 30 or not _DECIMAL.fullmatch(data):
            message = 'Send amounts and prices as decimal strings, such as "12.50".'
            raise InvalidAmount(message, fields={self.field_name: [message]})
        return data


@extend_schema_field({**DECIMAL_SCHEMA, "nullable": True})
class AmountField(serializers.Field):
    """Minor units out as a decimal string of the currency found at `currency` (a dotted path on the object)."""

    def __init__(self, *, currency: str, **kwargs):
        self.currency_path = currency
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        value = super().get_attribute(instance)
        if value is None:
            return None
        currency = instance
        for part in filter(None, self.currency_path.split(".")):
            currency = getattr(currency, part)
        return currency.format(value)

    def to_representation(self, value):
        return value
