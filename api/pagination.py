"""Cursor pagination for every list: stable under inserts, `?cursor=` to go on, `limit` from 1 to 200."""

from rest_framework import exceptions
from rest_framework.pagination import CursorPagination

from exchange.errors import ValidationFailed


class IdCursorPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request):
        """A present but bad `limit` is refused, never silently replaced by the default."""
        text = request.query_params.get(self.page_size_query_param)
        if text is None:
            return self.page_size
        if not text.isdigit() or not 1 <= int(text) <= self.max_page_size:
            message = f"Use a whole number from 1 to {self.max_page_size}."
            raise ValidationFailed(fields={self.page_size_query_param: [message]})
        return int(text)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise ValidationFailed("The cursor is not valid.", fields={"cursor": ["Not a valid cursor."]}) from None

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] |= {"minimum": 1, "maximum": self.max_page_size, "default": self.page_size}
        return parameters
