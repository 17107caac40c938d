"""A Python client for the exchange: signed REST calls with typed results, and the websocket feed.

    from exchange_client import Client
    client = Client("http://127.0.0.1:8000", key="ak_...", secret="...")
    order = client.place_order("GOLD-BUCK", "buy", quantity="1.000", price="25.10")

Needs only httpx and websockets (no Django). See docs/bots.md.
"""

from exchange_client import errors
from exchange_client.errors import ExchangeError, FeedError
from exchange_client.feed import Event, Feed
from exchange_client.models import (
    Balance,
    Book,
    Candle,
    Currency,
    Fill,
    LocalBook,
    Market,
    Order,
    OrderTest,
    Ticker,
    Trade,
    Transfer,
)
from exchange_client.rest import AsyncClient, Client, Page
from exchange_client.signing import signature, signed_headers

__all__ = [
    "AsyncClient", "Balance", "Book", "Candle", "Client", "Currency", "Event", "ExchangeError", "Feed", "FeedError",
    "Fill", "LocalBook", "Market", "Order", "OrderTest", "Page", "Ticker", "Trade", "Transfer", "errors",
    "signature", "signed_headers",
]
