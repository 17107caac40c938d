"""DRF's content negotiation, answering the usual case without parsing the Accept header.

Every API response is JSON (REST_FRAMEWORK's one renderer). A request that asks for anything (no Accept, `*/*`) or
for exactly `application/json`, with no ?format=, gets what DRF's negotiation gives it: the JSON renderer and
"application/json". Anything else goes through DRF's negotiation as before (a 406 for an unmet Accept).
"""

from rest_framework.negotiation import DefaultContentNegotiation

PLAIN_ACCEPTS = ("*/*", "application/json")


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            len(renderers) == 1
            and renderers[0].media_type == "application/json"
            and not format_suffix
            and not request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
            and request.META.get("HTTP_ACCEPT", "*/*") in PLAIN_ACCEPTS
        ):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)
