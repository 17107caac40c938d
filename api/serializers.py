from rest_framework import serializers

from api.models import ApiKey
from api.strict import RequestSerializer


class ApiKeySerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="key_id", help_text="Send it as X-API-Key.")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKey.Scope.choices))
    allowed_ips = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = ApiKey
        fields = ["id", "name", "scopes", "allowed_ips", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    secret = serializers.CharField(help_text="Shown this once: store it now. Signs requests; never sent itself.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]


class ApiKeyRequestSerializer(RequestSerializer):
    name = serializers.CharField(max_length=64)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKey.Scope.choices), min_length=1, max_length=4)
    allowed_ips = serializers.ListField(child=serializers.IPAddressField(), required=False, default=list, max_length=20)


class ServerTimeSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    epoch_ms = serializers.IntegerField(help_text="Use it for X-API-Timestamp if your clock drifts.")
