"""Market reads: markets, books, trades, tickers, candles. No writes here."""

from django.db.models import Q, QuerySet

from exchange.errors import NotFound
from ledger.models import Currency
from markets.models import Market


def market_get(*, symbol: str) -> Market:
    try:
        return Market.objects.select_related("base", "quote").get(symbol=symbol)
    except Market.DoesNotExist:
        raise NotFound(f"There is no market {symbol[:25]}.", fields={"market": ["No such market."]}) from None


def markets_with_currency(*, currency: Currency) -> QuerySet[Market]:
    return Market.objects.filter(Q(base=currency) | Q(quote=currency)).select_related("base", "quote")
