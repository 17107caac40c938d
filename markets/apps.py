from django.apps import AppConfig


class MarketsConfig(AppConfig):
    name = "markets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from markets import audit  # noqa: F401 - registers the markets' checks with the ledger's audit
