"""Request bodies accept only the fields they declare, with the JSON types they declare.

A mass-assignment attempt ("status", "held", "is_staff", "user", …) is refused with a 400 naming the field instead
of being silently dropped, and a number where a string belongs is refused instead of being turned into one.
"""

from collections.abc import Mapping

from rest_framework import serializers

from api.cached import DeclaredFieldsCopiedCheaply

UNKNOWN_FIELD = "Unknown field: this endpoint does not accept it."
NOT_A_STRING = "Send a JSON string here."


class RequestSerializer(DeclaredFieldsCopiedCheaply, serializers.Serializer):
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(str(name) for name in set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name[:64]: [UNKNOWN_FIELD] for name in unknown[:20]})
            not_strings = [
                name
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField) and data.get(name) is not None
                and not isinstance(data[name], str)
            ]
            if not_strings:
                raise serializers.ValidationError({name: [NOT_A_STRING] for name in not_strings})
        return super().to_internal_value(data)
