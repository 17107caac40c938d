"""The REST client against the served exchange: typed results, errors as exceptions, retries with one effect."""

from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from exchange_client import Balance, Book, Client, Fill, Market, Order, Ticker, errors
from markets.models import Order as OrderRow
from tests.client.conftest import make_trader
from tests.helpers import assert_audit_passes, ledger_state

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_place_read_and_cancel_with_typed_results(server_url, traders):
    ann, ben = traders
    with Client(server_url, **ann.credentials()) as client, Client(server_url, **ben.credentials()) as other:
        market = client.market("GOLD-BUCK")
        assert isinstance(market, Market)
        assert (market.tick, market.lot, market.price_decimals) == (Decimal("0.10"), Decimal("0.100"), 2)
        assert [m.symbol for m in client.markets()] == ["GOLD-BUCK"]

        order = client.place_order("GOLD-BUCK", "buy", quantity=Decimal("2.000"), price="25.10",
                                   client_order_id="ann-1")
        assert isinstance(order, Order)
        assert (order.price, order.quantity, order.status, order.client_order_id) == (
            Decimal("25.10"), Decimal("2.000"), "open", "ann-1")
        assert isinstance(order.created_at, datetime) and order.created_at.tzinfo is not None
        assert client.order(order.id) == order == client.order_by_client_id("ann-1")
        assert [o.id for o in client.orders(market="GOLD-BUCK", status="open")] == [order.id]
        buck = next(b for b in client.balances() if b.currency == "BUCK")
        assert buck == Balance("BUCK", Decimal("10000.00"), Decimal("50.20"), Decimal("9949.80"))
        assert client.book("GOLD-BUCK") == Book("GOLD-BUCK", 1, [(Decimal("25.10"), Decimal("2.000"))], [])

        sold = other.place_order("GOLD-BUCK", "sell", type="market", quantity="0.500")
        assert (sold.status, sold.filled_quantity, sold.average_price) == ("filled", Decimal("0.500"), Decimal("25.10"))
        [fill] = client.fills(market="GOLD-BUCK")
        assert isinstance(fill, Fill)
        assert (fill.order_id, fill.side, fill.price, fill.quantity, fill.liquidity) == (
            order.id, "buy", Decimal("25.10"), Decimal("0.500"), "maker")
        ticker = client.ticker("GOLD-BUCK")
        assert isinstance(ticker, Ticker) and (ticker.last, ticker.best_bid) == (Decimal("25.10"), Decimal("25.10"))
        [trade] = client.trades("GOLD-BUCK")
        assert (trade.price, trade.quantity, trade.taker_side) == (Decimal("25.10"), Decimal("0.500"), "sell")
        [candle] = client.candles("GOLD-BUCK", interval="1m")
        assert candle.close == Decimal("25.10") and candle.volume == Decimal("0.500")

        cancelled = client.cancel_order(order.id)
        assert (cancelled.status, cancelled.filled_quantity) == ("cancelled", Decimal("0.500"))
        assert client.orders(market="GOLD-BUCK", status="open") == []
        assert client.book("GOLD-BUCK").bids == []
    assert_audit_passes()


def test_pages_carry_the_cursor_of_the_next(server_url, traders):
    ann, _ = traders
    with Client(server_url, **ann.credentials()) as client:
        placed = [client.place_order("GOLD-BUCK", "buy", quantity="0.100", price=f"2{i}.00").id for i in range(3)]
        first = client.orders(limit=2)
        second = client.orders(limit=2, cursor=first.next_cursor)
        assert [o.id for o in first + second] == placed[::-1] and second.next_cursor is None
        assert [o.id for o in client.cancel_all("GOLD-BUCK")] != []


def test_each_error_code_is_raised_as_its_exception_and_changes_nothing(server_url, traders, gold_buck):
    ann, ben = traders
    reader = make_trader("reader", gold_buck, scopes=("read",))
    before = ledger_state(), OrderRow.objects.count()
    with Client(server_url, **ann.credentials()) as client:
        with pytest.raises(errors.InsufficientFunds) as caught:
            client.place_order("GOLD-BUCK", "buy", quantity="1000.000", price="25.00")
        assert (caught.value.code, caught.value.status) == ("insufficient_funds", 409)
        assert isinstance(caught.value, errors.Conflict) and isinstance(caught.value, errors.ExchangeError)
        with pytest.raises(errors.InvalidPrice) as caught:
            client.place_order("GOLD-BUCK", "buy", quantity="1.000", price="25.05")  # off the 0.10 tick
        assert caught.value.status == 400 and "price" in caught.value.fields
        with pytest.raises(errors.NotFound):
            client.cancel_order(10**9)
        with pytest.raises(errors.NotFound):
            client.market("NOPE-NOPE")
    with Client(server_url, key=ann.key, secret="not the secret") as client, pytest.raises(errors.InvalidSignature):
        client.balances()
    with Client(server_url, **reader.credentials()) as client, pytest.raises(errors.InsufficientScope) as caught:
        client.place_order("GOLD-BUCK", "buy", quantity="1.000", price="25.00")
    assert caught.value.status == 403
    assert (ledger_state(), OrderRow.objects.count()) == before


class LoseFirstResponse(httpx.HTTPTransport):
    """Delivers the first POST to the server, then loses its answer the way a dropped connection or a proxy does."""

    def __init__(self, failure: str):
        super().__init__()
        self.failure, self.posts, self.idempotency_keys, self.bodies = failure, 0, [], []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.method != "POST":
            return response
        self.posts += 1
        self.idempotency_keys.append(request.headers["Idempotency-Key"])
        self.bodies.append(request.content)
        if self.posts == 1:
            response.read()  # the server did its work; the client never hears of it
            if self.failure == "connection":
                raise httpx.ReadError("connection reset by peer", request=request)
            return httpx.Response(502, text="<html>Bad Gateway</html>", request=request)
        return response


@pytest.mark.parametrize("failure", ["connection", "bad_gateway"])
def test_a_retried_order_is_placed_once(server_url, traders, failure):
    ann, _ = traders
    transport = LoseFirstResponse(failure)
    with Client(server_url, transport=transport, backoff=0.01, **ann.credentials()) as client:
        order = client.place_order("GOLD-BUCK", "buy", quantity="1.000", price="25.00")
    assert transport.posts == 2
    assert transport.idempotency_keys[0] == transport.idempotency_keys[1]  # the same key, and body, both times
    assert transport.bodies[0] == transport.bodies[1]
    [row] = OrderRow.objects.filter(user=ann.user)
    assert (row.pk, row.client_order_id, row.reserved) == (order.id, order.client_order_id, 2500)
    assert_audit_passes()


class SameRequestFromAnotherProcessFirst(httpx.HTTPTransport):
    """Another process of the same bot sends the very same signed request (same key, same millisecond) first."""

    def __init__(self):
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if not self.sent:
            super().handle_request(request).read()
        self.sent.append(request.headers["X-API-Signature"])
        return super().handle_request(request)


def test_a_signature_another_process_used_first_is_signed_again(server_url, traders):
    ann, _ = traders
    transport = SameRequestFromAnotherProcessFirst()
    with Client(server_url, transport=transport, backoff=0.01, **ann.credentials()) as client:
        balances = client.balances()
    assert {balance.currency for balance in balances} >= {"GOLD", "BUCK"}
    assert len(transport.sent) == 2 and transport.sent[0] != transport.sent[1]  # refused once, then re-signed


def test_a_failure_that_persists_raises_exchange_unavailable(traders):
    ann, _ = traders
    with Client("http://127.0.0.1:9", retries=2, backoff=0.01, **ann.credentials()) as client:  # nothing listens
        with pytest.raises(errors.ExchangeUnavailable):
            client.balances()
