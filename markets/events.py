"""What a committed change to a market tells the world: built and sent after the commit, never before.

The payload is built from the rows the change wrote, as they are in memory, once the transaction has committed:
no work under the market lock and no query. It is plain data (decimal strings, ISO times). It holds the
public part (the changed book levels and the trades, under the market's new sequence) and the private part (each
touched user's orders, fills and balances, tagged with `user_id`); realtime/publish.py routes each part to its
groups.
"""

from django.db import transaction

from ledger.money import format_amount
from realtime.publish import publish_market_update


def on_commit_publish(*, market, levels, trades, orders, accounts) -> None:
    """Schedule one market update for after the current transaction commits (never before)."""
    sequence = market.sequence
    transaction.on_commit(lambda: publish_market_update(_payload(market, sequence, levels, trades, orders, accounts)))


def _payload(market, sequence, levels, trades, orders, accounts) -> dict:
    return {
        "market": market.symbol,
        "sequence": sequence,
        "book": [
            {"side": side, "price": market.quote.format(price), "quantity": market.base.format(quantity)}
            for side, price, quantity in levels
        ],
        "trades": [trade_payload(trade, market) for trade in trades],
        "orders": [order_payload(order, market) for order in orders],
        "fills": [  # every trade is two fills: the buyer's and the seller's
            {"user_id": user_id, **fill_payload(trade, market, side=side)}
            for trade in trades
            for user_id, side in ((trade.buyer_id, "buy"), (trade.seller_id, "sell"))
        ],
        "balances": [{"user_id": account.user_id, **balance_payload(account, market)} for account in accounts],
    }


def trade_payload(trade, market) -> dict:
    return {
        "id": trade.pk,
        "market": market.symbol,
        "price": market.quote.format(trade.price),
        "quantity": market.base.format(trade.quantity),
        "taker_side": trade.taker_side,
        "time": iso(trade.created_at),
    }


def candle_payload(bar, market) -> dict:
    """One OHLCV bar: prices in quote, volume in base, time its start (UTC)."""
    quote = market.quote
    return {
        "time": iso(bar.start),
        "open": quote.format(bar.open),
        "high": quote.format(bar.high),
        "low": quote.format(bar.low),
        "close": quote.format(bar.close),
        "volume": market.base.format(bar.volume),
    }


def iso(moment) -> str:
    """ISO-8601 in UTC with a Z, as every message and response carries times."""
    return moment.isoformat().replace("+00:00", "Z")


def fill_payload(trade, market, *, side: str) -> dict:
    """One side of a trade: that side's order, its fee and whether it made or took liquidity.

    The buyer pays its fee in base (what it receives), the seller in quote.
    """
    taker = trade.taker_side == side
    return {
        **trade_payload(trade, market),
        "trade_id": trade.pk,
        "order_id": trade.taker_order_id if taker else trade.maker_order_id,
        "side": side,
        "liquidity": "taker" if taker else "maker",
        "fee": market.base.format(trade.buyer_fee) if side == "buy" else market.quote.format(trade.seller_fee),
        "fee_currency": market.base.code if side == "buy" else market.quote.code,
    }


def balance_payload(account, market) -> dict:
    currency = market.base if account.currency_id == market.base_id else market.quote
    return {
        "currency": currency.code,
        "balance": currency.format(account.balance),
        "held": currency.format(account.held),
        "available": currency.format(account.available),
    }


def order_payload(order, market) -> dict:
    """An order as its owner sees it on the private stream (the same fields as the REST API)."""
    base, quote = market.base, market.quote
    return {
        "user_id": order.user_id,
        "id": order.pk,
        "market": market.symbol,
        "side": order.side,
        "price": quote.format(order.price) if order.price is not None else None,
        "quantity": base.format(order.quantity) if order.quantity is not None else None,
        "filled_quantity": base.format(order.filled_quantity),
        "status": order.status,
        "reason": order.reason,
    }


def ticker_payload(ticker) -> dict:
    """A 24-hour ticker as the API and the feed send it: prices in quote, volume in base, change in percent."""
    market = ticker.market

    def price(value):
        return None if value is None else market.quote.format(value)

    change = ticker.change_bps
    return {
        "market": market.symbol,
        "last": price(ticker.last),
        "best_bid": price(ticker.best_bid),
        "best_ask": price(ticker.best_ask),
        "open": price(ticker.open),
        "high": price(ticker.high),
        "low": price(ticker.low),
        "volume": market.base.format(ticker.volume),
        "quote_volume": market.quote.format(ticker.quote_volume),
        "change_percent": None if change is None else format_amount(change, 2),
    }
