"""What a committed change to a market tells the world: built inside the transaction, sent after the commit.

The payload is plain data (decimal strings, ISO times), so the sender never touches the ORM again.
"""

from django.db import transaction

from realtime.publish import publish_market_update


def on_commit_publish(*, market, levels, trades, orders, accounts) -> None:
    """Schedule one market update for after the current transaction commits (never before)."""
    base, quote = market.base, market.quote
    payload = {
        "market": market.symbol,
        "sequence": market.sequence,
        "book": [
            {"side": side, "price": quote.format(price), "quantity": base.format(quantity)}
            for side, price, quantity in levels
        ],
        "trades": [trade_payload(trade, market) for trade in trades],
        "orders": [order_payload(order, market) for order in orders],
        "balances": [
            {
                "user_id": account.user_id,
                "currency": base.code if account.currency_id == base.pk else quote.code,
                "balance": (base if account.currency_id == base.pk else quote).format(account.balance),
                "held": (base if account.currency_id == base.pk else quote).format(account.held),
                "available": (base if account.currency_id == base.pk else quote).format(account.available),
            }
            for account in accounts
        ],
    }
    transaction.on_commit(lambda: publish_market_update(payload))


def trade_payload(trade, market) -> dict:
    return {
        "id": trade.pk,
        "market": market.symbol,
        "price": market.quote.format(trade.price),
        "quantity": market.base.format(trade.quantity),
        "taker_side": trade.taker_side,
        "time": trade.created_at.isoformat().replace("+00:00", "Z"),
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
