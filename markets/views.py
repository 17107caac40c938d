"""The trading pages."""

from django.shortcuts import render

from markets import selectors
from markets.models import Market


def market_list(request):
    markets = Market.objects.select_related("base", "quote")
    return render(request, "markets/market_list.html", {"markets": markets})


def market_detail(request, symbol: str):
    market = selectors.market_get(symbol=symbol)
    return render(request, "markets/market.html", {"market": market})
