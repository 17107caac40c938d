"""The trading pages.

Each page is rendered with the state it shows embedded as JSON (one `json_script`), in the shapes the REST API and
the websocket speak, so the browser draws it at once without a round of API calls, and the same JavaScript that
applies live updates draws the first frame. Amounts are decimal strings, as everywhere outside the database.
"""

from django.shortcuts import render
from django.urls import reverse

from ledger.models import Account
from ledger.selectors import balances_for
from markets import selectors
from markets.events import (
    balance_payload,
    candle_payload,
    fill_payload,
    iso,
    order_payload,
    ticker_payload,
    trade_payload,
)
from markets.models import Market, Order

BOOK_DEPTH = 50
TAPE_LENGTH = 50
CHART_INTERVAL = "1m"
CHART_BARS = 300
HISTORY_LENGTH = 50


def market_list(request):
    markets = list(selectors.market_list())
    tickers = selectors.tickers(markets=markets)
    rows = [(market, ticker_data(tickers[market.pk])) for market in markets]
    return render(request, "markets/market_list.html", {"rows": rows, "state": {"tickers": [t for _, t in rows]}})


def market_detail(request, symbol: str):
    market = selectors.market_get(symbol=symbol)
    state = {
        "market": market_data(market),
        "ticker": ticker_data(selectors.ticker(market=market)),
        "book": book_data(market),
        "trades": [trade_payload(trade, market) for trade in selectors.recent_trades(market=market, limit=TAPE_LENGTH)],
        "interval": CHART_INTERVAL,
        "candles": [
            bar_data(bar, market) for bar in selectors.candles(market=market, interval=CHART_INTERVAL, limit=CHART_BARS)
        ],
        "user": None,
    }
    if request.user.is_authenticated:
        state["user"] = private_data(request.user, market)
    context = {
        "market": market,
        "ticker": state["ticker"],
        "state": state,
        "intervals": list(selectors.INTERVALS),
        "taker_fee": percent(market.taker_fee_bps, signed=False),
        "login_url": _login_url(request),
    }
    return render(request, "markets/market.html", context)


def market_data(market: Market) -> dict:
    base, quote = market.base, market.quote
    return {
        "symbol": market.symbol,
        "status": market.status,
        "halt_reason": market.halt_reason,
        "base": {"code": base.code, "decimals": base.decimals},
        "quote": {"code": quote.code, "decimals": quote.decimals},
        "tick": quote.format(market.tick),
        "lot": base.format(market.lot),
        "min_quantity": base.format(market.min_quantity),
        "maker_fee_bps": market.maker_fee_bps,
        "taker_fee_bps": market.taker_fee_bps,
    }


def ticker_data(ticker: selectors.Ticker) -> dict:
    """The API's ticker plus what the page shows: the change in basis points and as "+1.25%"."""
    return ticker_payload(ticker) | {"change_bps": ticker.change_bps, "change": percent(ticker.change_bps)}


def percent(bps: int | None, *, signed: bool = True) -> str:
    """Basis points as a percentage, "+1.25%" when signed; a dash when there is nothing to compare."""
    if bps is None:
        return "—"
    sign = "-" if bps < 0 else "+" if bps > 0 and signed else ""
    return f"{sign}{abs(bps) // 100}.{abs(bps) % 100:02d}%"


def book_data(market: Market) -> dict:
    snapshot = selectors.book_snapshot(market=market, depth=BOOK_DEPTH)
    levels = lambda rows: [[market.quote.format(p), market.base.format(q)] for p, q in rows]  # noqa: E731
    return {"sequence": snapshot.sequence, "bids": levels(snapshot.bids), "asks": levels(snapshot.asks)}


def bar_data(bar: selectors.Bar, market: Market) -> dict:
    """A candle as the chart takes it: time in seconds since the epoch (UTC)."""
    return candle_payload(bar, market) | {"time": int(bar.start.timestamp())}


def order_data(order: Order, market: Market) -> dict:
    """An order as its owner sees it: the websocket's fields plus what the history table shows."""
    return {
        **order_payload(order, market),
        "type": order.type,
        "time_in_force": order.time_in_force,
        "post_only": order.post_only,
        "quote_budget": market.quote.format(order.quote_budget) if order.quote_budget is not None else None,
        "created_at": iso(order.created_at),
    }


def private_data(user, market: Market) -> dict:
    accounts = {a.currency_id: a for a in balances_for(user=user).filter(currency__in=[market.base, market.quote])}
    # A currency the user never held has no account yet: it shows as zero, in the shape of the others.
    balances = [
        balance_payload(accounts.get(currency.pk) or Account(currency=currency, balance=0, held=0), market)
        for currency in (market.base, market.quote)
    ]
    return {
        "username": user.username,
        "balances": balances,
        "open_orders": [order_data(o, market) for o in selectors.orders_for(user=user, market=market, open_only=True)],
        "closed_orders": [
            order_data(o, market)
            for o in selectors.orders_for(user=user, market=market, open_only=False)[:HISTORY_LENGTH]
        ],
        "fills": [
            fill_payload(trade, market, side="buy" if trade.buyer_id == user.pk else "sell")
            for trade in selectors.fills_for(user=user, market=market)[:HISTORY_LENGTH]
        ],
    }


def _login_url(request) -> str:
    return f"{reverse('login')}?next={request.path}"
