"""The base of every API view: one place for the request size check and the rate-limit headers."""

from rest_framework.views import APIView

from api.pagination import IdCursorPagination  # noqa: F401 - re-exported for the views
from api.throttling import throttle_waits


class ApiView(APIView):
    """Authentication, scopes and throttles come from REST_FRAMEWORK in settings.

    A view that lists with paginate() sets `pagination_class = IdCursorPagination`, which also makes the schema
    describe its pages; bounded market-data lists (trades, candles, tickers) are plain arrays.
    """

    scopes: dict[str, str] = {}
    pagination_class = None

    def initial(self, request, *args, **kwargs):
        # Django's request.body enforces DATA_UPLOAD_MAX_MEMORY_SIZE (413 via the error handler); DRF's parser
        # would otherwise stream past it. Signatures and idempotency fingerprints need the raw body anyway.
        request.body  # noqa: B018
        super().initial(request, *args, **kwargs)

    def check_throttles(self, request):
        # DRF's, with one cache read and one write for all the throttles (api/throttling.py).
        waits = throttle_waits(self.get_throttles(), request, self)
        if waits:
            self.throttled(request, max((wait for wait in waits if wait is not None), default=None))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        limit = getattr(request, "rate_limit", None)
        if limit is not None:
            response["X-RateLimit-Limit"] = str(limit[0])
            response["X-RateLimit-Remaining"] = str(limit[1])
        return response

    def paginate(self, queryset, serializer_class, **context):
        """One cursor-paginated page of `queryset`, serialized."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        data = serializer_class(page, many=True, context={"request": self.request, **context}).data
        return paginator.get_paginated_response(data)
