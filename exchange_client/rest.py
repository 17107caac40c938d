"""The REST client: `Client` (blocking) and `AsyncClient` (asyncio), with the same methods.

Every endpoint is written once, in `_Endpoints`: a method describes its call (method, path, query, body, how to
read the answer) and hands it to `_call`, which the two clients implement — one returns the result, the other a
coroutine. So `client.place_order(...)` returns an `Order`, and `await async_client.place_order(...)` does too.

Retries: connection errors, 5xx (except `market_halted`), 429 (after its Retry-After), `idempotency_key_in_progress`
and `signature_reused` are retried with backoff, but only for calls a retry cannot repeat: reads, cancels,
and the money-moving POSTs, which carry one Idempotency-Key across all their attempts (orders also a
client_order_id), so the server applies them at most once. Other POSTs are retried only when the connection was
never made.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from exchange_client.errors import ExchangeError, ExchangeUnavailable, error_from_response
from exchange_client.models import (
    Balance,
    Book,
    Candle,
    Currency,
    Fill,
    Market,
    Order,
    OrderTest,
    Ticker,
    Trade,
    Transfer,
)
from exchange_client.signing import signed_headers

API = "/api/v1"
Amount = Decimal | str | int


class Page(list):
    """One page of a cursor-paginated list; pass `next_cursor` as `cursor=` for the next (None at the end)."""

    next_cursor: str | None = None


@dataclass(frozen=True)
class _Call:
    method: str
    path: str  # with its query string: it is signed as sent
    body: bytes = b""
    parse: Callable = lambda data: data
    retry_safe: bool = True
    idempotency_key: str | None = None


def decimal_string(value: Amount | None) -> str | None:
    """A decimal string for the API. Floats are refused: they cannot hold 0.1 exactly, and neither does the API."""
    if value is None:
        return None
    if isinstance(value, (float, bool)):
        raise TypeError("pass amounts as Decimal, str or int, never float")
    return value if isinstance(value, str) else format(Decimal(value), "f")  # the server judges the value


def _query(path: str, **params) -> str:
    params = {name: value for name, value in params.items() if value is not None}
    return f"{path}?{urlencode(params)}" if params else path


def _page(parse_item) -> Callable[[dict], Page]:
    def parse(data: dict) -> Page:
        page = Page(parse_item(item) for item in data["results"])
        page.next_cursor = parse_qs(urlsplit(data["next"]).query).get("cursor", [None])[0] if data.get("next") else None
        return page

    return parse


def order_payload(market: str, side: str, *, type: str = "limit", quantity: Amount | None = None,
                  price: Amount | None = None, quote_budget: Amount | None = None, time_in_force: str | None = None,
                  post_only: bool | None = None, self_trade: str | None = None,
                  client_order_id: str | None = None) -> dict:
    return {
        "market": market, "side": side, "type": type, "quantity": decimal_string(quantity),
        "price": decimal_string(price), "quote_budget": decimal_string(quote_budget), "time_in_force": time_in_force,
        "post_only": post_only, "self_trade": self_trade,
        "client_order_id": client_order_id or f"py-{uuid.uuid4().hex[:24]}",
    }


def _list(parse_item) -> Callable[[list], list]:
    return lambda data: [parse_item(item) for item in data]


class _Endpoints:
    def _call(self, call: _Call):
        raise NotImplementedError

    def _get(self, path: str, parse=lambda data: data, **params):
        return self._call(_Call("GET", _query(API + path, **params), parse=parse))

    def _post(self, path: str, payload: dict, parse, *, idempotent: bool):
        body = json.dumps({k: v for k, v in payload.items() if v is not None}, separators=(",", ":")).encode()
        key = uuid.uuid4().hex if idempotent else None
        return self._call(_Call("POST", API + path, body, parse, retry_safe=idempotent, idempotency_key=key))

    # --- public market data -----------------------------------------------------------------------------------

    def server_time(self) -> datetime:
        return self._get("/time", lambda data: datetime.fromisoformat(data["time"]))

    def currencies(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Currency]:
        return self._get("/currencies", _page(Currency.from_api), limit=limit, cursor=cursor)

    def currency(self, code: str) -> Currency:
        return self._get(f"/currencies/{code}", Currency.from_api)

    def markets(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Market]:
        return self._get("/markets", _page(Market.from_api), limit=limit, cursor=cursor)

    def market(self, symbol: str) -> Market:
        return self._get(f"/markets/{symbol}", Market.from_api)

    def book(self, symbol: str, *, depth: int | None = None) -> Book:
        return self._get(f"/markets/{symbol}/book", Book.from_api, depth=depth)

    def trades(self, symbol: str, *, limit: int | None = None) -> list[Trade]:
        return self._get(f"/markets/{symbol}/trades", _list(lambda t: Trade.from_api(t, symbol)), limit=limit)

    def ticker(self, symbol: str) -> Ticker:
        return self._get(f"/markets/{symbol}/ticker", Ticker.from_api)

    def tickers(self) -> list[Ticker]:
        return self._get("/tickers", _list(Ticker.from_api))

    def candles(self, symbol: str, *, interval: str = "1m", start: datetime | None = None,
                end: datetime | None = None, limit: int | None = None) -> list[Candle]:
        return self._get(
            f"/markets/{symbol}/candles", _list(Candle.from_api), interval=interval,
            start=start.isoformat() if start else None, end=end.isoformat() if end else None, limit=limit,
        )

    # --- your money ----------------------------------------------------------------------------------------------

    def balances(self, *, limit: int | None = 200, cursor: str | None = None) -> Page[Balance]:
        return self._get("/balances", _page(Balance.from_api), limit=limit, cursor=cursor)

    def transfers(self, *, limit: int | None = None, cursor: str | None = None) -> Page[Transfer]:
        return self._get("/transfers", _page(Transfer.from_api), limit=limit, cursor=cursor)

    def transfer(self, *, recipient: str, currency: str, amount: Amount, memo: str = "") -> Transfer:
        payload = {"recipient": recipient, "currency": currency, "amount": decimal_string(amount), "memo": memo}
        return self._post("/transfers", payload, Transfer.from_api, idempotent=True)

    # --- orders -------------------------------------------------------------------------------------------------

    def place_order(
        self,
        market: str,
        side: str,
        *,
        type: str = "limit",
        quantity: Amount | None = None,
        price: Amount | None = None,
        quote_budget: Amount | None = None,
        time_in_force: str | None = None,
        post_only: bool | None = None,
        self_trade: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Place an order. A client_order_id is made up when not given, so retries place it at most once."""
        payload = order_payload(
            market, side, type=type, quantity=quantity, price=price, quote_budget=quote_budget,
            time_in_force=time_in_force, post_only=post_only, self_trade=self_trade, client_order_id=client_order_id,
        )
        return self._post("/orders", payload, Order.from_api, idempotent=True)

    def test_order(self, market: str, side: str, **order) -> OrderTest:
        """Validate an order fully (funds included) without placing it; raises the error placing would raise."""
        return self._post("/orders/test", order_payload(market, side, **order), OrderTest.from_api, idempotent=False)

    def order(self, order_id: int) -> Order:
        return self._get(f"/orders/{order_id}", Order.from_api)

    def order_by_client_id(self, client_order_id: str) -> Order:
        return self._get(f"/orders/by-client-id/{client_order_id}", Order.from_api)

    def orders(self, *, market: str | None = None, status: str | None = None, limit: int | None = 200,
               cursor: str | None = None) -> Page[Order]:
        """Your orders, newest first; status "open" or "closed" filters."""
        return self._get("/orders", _page(Order.from_api), market=market, status=status, limit=limit, cursor=cursor)

    def cancel_order(self, order_id: int) -> Order:
        """Cancel one open order. (If a retried cancel's first attempt went through, this raises OrderNotOpen.)"""
        return self._call(_Call("DELETE", f"{API}/orders/{order_id}", parse=Order.from_api))

    def cancel_all(self, market: str) -> list[Order]:
        """Cancel all your open orders in a market; returns the orders cancelled."""
        return self._call(_Call("DELETE", _query(f"{API}/orders", market=market),
                                parse=lambda data: [Order.from_api(o) for o in data["cancelled"]]))

    def fills(self, *, market: str | None = None, limit: int | None = None, cursor: str | None = None) -> Page[Fill]:
        return self._get("/fills", _page(Fill.from_api), market=market, limit=limit, cursor=cursor)


class _Transport:
    """What both clients share: base URL, credentials, signing, and the retry decisions."""

    def __init__(self, url: str = "http://127.0.0.1:8000", *, key: str | None = None, secret: str | None = None,
                 retries: int = 4, backoff: float = 0.25, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.key, self.secret = key, secret
        self.retries, self.backoff, self.timeout = retries, backoff, timeout

    def _headers(self, call: _Call) -> dict:
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        if self.key and self.secret:  # signed anew for every attempt: the server accepts a signature once
            headers |= signed_headers(self.key, self.secret, call.method, call.path, call.body)
        return headers

    def _delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After when it gave one."""
        if retry_after is not None:
            return retry_after
        return self.backoff * 2**attempt * (0.5 + random.random())

    def _outcome(self, call: _Call, response: httpx.Response | None, error: Exception | None, attempt: int):
        """("done", result) or ("retry", delay); raises when the call has failed for good."""
        if error is not None:
            never_sent = isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))
            if attempt < self.retries and (call.retry_safe or never_sent):
                return "retry", self._delay(attempt)
            raise ExchangeUnavailable(f"{call.method} {call.path}: {error!r}") from error
        if response.status_code < 300:
            return "done", call.parse(response.json())
        try:
            body = response.json()
        except ValueError:
            body = None
        retry_after = response.headers.get("Retry-After")
        exc = error_from_response(
            response.status_code, body, retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None
        )
        transient = (
            exc.status == 429
            or exc.code == "idempotency_key_in_progress"
            # The same request, signed in the same millisecond by another process sharing the key: refused before
            # anything happened, so it goes again with a fresh signature.
            or exc.code == "signature_reused"
            or (exc.status >= 500 and exc.code != "market_halted")
        )
        if transient and call.retry_safe and attempt < self.retries:
            return "retry", self._delay(attempt, exc.retry_after)
        raise exc


class Client(_Endpoints, _Transport):
    """Blocking client. `transport` is passed to httpx (tests use it to lose a response on purpose)."""

    def __init__(self, url: str = "http://127.0.0.1:8000", *, transport: httpx.BaseTransport | None = None, **options):
        _Transport.__init__(self, url, **options)
        self.http = httpx.Client(base_url=self.url, timeout=self.timeout, transport=transport)

    def _call(self, call: _Call):
        for attempt in range(self.retries + 1):
            response = error = None
            try:
                response = self.http.request(call.method, call.path, content=call.body, headers=self._headers(call))
            except httpx.TransportError as exc:
                error = exc
            verdict, value = self._outcome(call, response, error, attempt)
            if verdict == "done":
                return value
            time.sleep(value)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncClient(_Endpoints, _Transport):
    """asyncio client: the same methods as Client, awaited."""

    def __init__(self, url: str = "http://127.0.0.1:8000", *, transport: httpx.AsyncBaseTransport | None = None,
                 **options):
        _Transport.__init__(self, url, **options)
        self.http = httpx.AsyncClient(base_url=self.url, timeout=self.timeout, transport=transport)

    async def _call(self, call: _Call):
        for attempt in range(self.retries + 1):
            response = error = None
            try:
                response = await self.http.request(
                    call.method, call.path, content=call.body, headers=self._headers(call)
                )
            except httpx.TransportError as exc:
                error = exc
            verdict, value = self._outcome(call, response, error, attempt)
            if verdict == "done":
                return value
            await asyncio.sleep(value)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def close(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


__all__ = ["AsyncClient", "Client", "ExchangeError", "Page", "decimal_string"]
