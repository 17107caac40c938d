"""Everything under /api/: v1 endpoints, the OpenAPI schema and Swagger UI, and JSON 404s for the rest.

The browser's key pages are in api/page_urls.py.
"""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api import views
from ledger import api as ledger_api
from markets import api as markets_api

v1 = [
    path("orders", markets_api.OrderListView.as_view()),  # first: the busiest path
    path("time", views.ServerTimeView.as_view()),
    path("currencies", ledger_api.CurrencyListView.as_view()),
    path("currencies/<str:code>", ledger_api.CurrencyDetailView.as_view()),
    path("currencies/<str:code>/supply-changes", ledger_api.SupplyChangeListView.as_view()),
    path("currencies/<str:code>/mint", ledger_api.SupplyChangeView.as_view(action="mint"), name="api-mint"),
    path("currencies/<str:code>/burn", ledger_api.SupplyChangeView.as_view(action="burn"), name="api-burn"),
    path("currencies/<str:code>/renounce-minting", ledger_api.RenounceMintingView.as_view()),
    path("balances", ledger_api.BalanceListView.as_view()),
    path("transfers", ledger_api.TransferListView.as_view()),
    path("transfers/<int:transfer_id>", ledger_api.TransferDetailView.as_view()),
    path("markets", markets_api.MarketListView.as_view()),
    path("markets/<str:symbol>", markets_api.MarketDetailView.as_view()),
    path("markets/<str:symbol>/book", markets_api.BookView.as_view()),
    path("markets/<str:symbol>/trades", markets_api.TradeListView.as_view()),
    path("markets/<str:symbol>/ticker", markets_api.TickerView.as_view()),
    path("markets/<str:symbol>/candles", markets_api.CandleListView.as_view()),
    path("tickers", markets_api.TickerListView.as_view()),
    path("orders/test", markets_api.OrderTestView.as_view()),
    path("orders/by-client-id/<str:client_order_id>", markets_api.OrderByClientIdView.as_view()),
    path("orders/<int:order_id>", markets_api.OrderDetailView.as_view()),
    path("fills", markets_api.FillListView.as_view()),
    path("keys", views.KeyListView.as_view()),
    path("keys/<str:key_id>", views.KeyDetailView.as_view()),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^.*$", views.NotFoundView.as_view()),
]
