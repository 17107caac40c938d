"""Market endpoints: public market data, and placing, reading and cancelling one's own orders.

Thin: validate, call one service or selector, serialize. Amounts arrive as decimal strings and are parsed with the
market's currencies (ledger.money.parse_amount).
"""

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from api.base import ApiView, IdCursorPagination
from api.idempotency import idempotent
from api.schema import ERROR_EXAMPLE, IDEMPOTENCY_HEADER, PRIVATE, errors
from exchange.errors import InvalidAmount, NotFound
from ledger import selectors as ledger_selectors
from ledger.money import parse_amount
from markets import selectors, services, writer
from markets.events import candle_payload, ticker_payload
from markets.models import Market, Order
from markets.serializers import (
    BookSerializer,
    CancelledOrdersSerializer,
    CandleSerializer,
    FillSerializer,
    MarketCreateSerializer,
    MarketSerializer,
    OrderRequestSerializer,
    OrderSerializer,
    OrderTestResultSerializer,
    TickerSerializer,
    TradeSerializer,
)
from markets.services import OrderRequest


class _BookQuery(serializers.Serializer):
    depth = serializers.IntegerField(min_value=1, max_value=selectors.MAX_DEPTH, default=50)


class _TradesQuery(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=50)


class _CandlesQuery(serializers.Serializer):
    interval = serializers.ChoiceField(choices=list(selectors.INTERVALS), default="1m")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=selectors.MAX_CANDLES, default=500)


class _OrdersQuery(serializers.Serializer):
    market = serializers.CharField(max_length=25, required=False)
    status = serializers.ChoiceField(choices=["open", "closed"], required=False)


class _FillsQuery(serializers.Serializer):
    market = serializers.CharField(max_length=25, required=False)


class _CancelAllQuery(serializers.Serializer):
    market = serializers.CharField(max_length=25)


def _query(serializer_class, request) -> dict:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


# --- public market data -----------------------------------------------------------------------------------------


class MarketListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"POST": "issue"}

    @extend_schema(operation_id="markets_list", summary="List markets", responses={200: MarketSerializer(many=True), **errors(400)})
    def get(self, request):
        return self.paginate(selectors.market_list().order_by("-id"), MarketSerializer)

    @extend_schema(
        operation_id="markets_create",
        summary="Open a market for a pair of currencies",
        request=MarketCreateSerializer,
        responses={201: MarketSerializer, **errors(*PRIVATE, 404, 409)},
    )
    def post(self, request):
        form = MarketCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        base = ledger_selectors.currency_get(code=data["base"])
        quote = ledger_selectors.currency_get(code=data["quote"])
        steps = {}
        for name, currency in (("tick", quote), ("lot", base), ("min_quantity", base)):
            if data.get(name) is not None:
                steps[name] = parse_amount(data[name], currency.decimals, field=name)
        market = services.market_create(
            user=request.user,
            base=base,
            quote=quote,
            maker_fee_bps=data["maker_fee_bps"],
            taker_fee_bps=data["taker_fee_bps"],
            **steps,
        )
        return Response(MarketSerializer(market).data, status=status.HTTP_201_CREATED)


class MarketDetailView(ApiView):
    @extend_schema(operation_id="markets_retrieve", summary="One market", responses={200: MarketSerializer, **errors(404)})
    def get(self, request, symbol: str):
        return Response(MarketSerializer(selectors.market_get(symbol=symbol)).data)


class BookView(ApiView):
    @extend_schema(
        operation_id="markets_book",
        summary="Level-2 order book with the sequence it reflects",
        parameters=[_BookQuery],
        responses={200: BookSerializer, **errors(400, 404)},
    )
    def get(self, request, symbol: str):
        depth = _query(_BookQuery, request)["depth"]
        market = selectors.market_get(symbol=symbol)
        book = selectors.book_snapshot(market=market, depth=depth)
        base, quote = market.base, market.quote

        def levels(rows):
            return [[quote.format(price), base.format(quantity)] for price, quantity in rows]

        return Response(
            {"market": market.symbol, "sequence": book.sequence, "bids": levels(book.bids), "asks": levels(book.asks)}
        )


class TradeListView(ApiView):
    @extend_schema(
        operation_id="markets_trades",
        summary="Recent trades, newest first",
        parameters=[_TradesQuery],
        responses={200: TradeSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request, symbol: str):
        limit = _query(_TradesQuery, request)["limit"]
        market = selectors.market_get(symbol=symbol)
        trades = selectors.recent_trades(market=market, limit=limit)
        for trade in trades:
            trade.market = market  # formatting needs the currencies, already loaded
        return Response(TradeSerializer(trades, many=True).data)


class TickerView(ApiView):
    @extend_schema(operation_id="markets_ticker", summary="24-hour ticker", responses={200: TickerSerializer, **errors(404)})
    def get(self, request, symbol: str):
        market = selectors.market_get(symbol=symbol)
        return Response(ticker_payload(selectors.ticker(market=market)))


class TickerListView(ApiView):
    @extend_schema(operation_id="tickers_list", summary="24-hour tickers of every market", responses={200: TickerSerializer(many=True)})
    def get(self, request):
        markets = list(selectors.market_list())
        tickers = selectors.tickers(markets=markets)
        return Response([ticker_payload(tickers[market.pk]) for market in markets])


class CandleListView(ApiView):
    @extend_schema(
        operation_id="markets_candles",
        summary="OHLCV bars, oldest first",
        parameters=[_CandlesQuery],
        responses={200: CandleSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request, symbol: str):
        query = _query(_CandlesQuery, request)
        market = selectors.market_get(symbol=symbol)
        bars = selectors.candles(
            market=market, interval=query["interval"], start=query.get("start"), end=query.get("end"), limit=query["limit"]
        )
        data = [candle_payload(bar, market) for bar in bars]
        return Response(CandleSerializer(data, many=True).data)


# --- orders and fills -------------------------------------------------------------------------------------------

PLACE_EXAMPLES = [
    OpenApiExample(
        "limit buy",
        value={"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.500", "price": "25.10",
               "time_in_force": "gtc", "client_order_id": "bot-42"},
        request_only=True,
    ),
    OpenApiExample(
        "market buy within a budget",
        value={"market": "GOLD-BUCK", "side": "buy", "type": "market", "quote_budget": "100.00"},
        request_only=True,
    ),
    OpenApiExample(
        "placed",
        value={"id": 7, "client_order_id": "bot-42", "market": "GOLD-BUCK", "side": "buy", "type": "limit",
               "price": "25.10", "quantity": "1.500", "quote_budget": None, "filled_quantity": "0.500",
               "filled_quote": "12.55", "average_price": "25.10", "fees_paid": "0.000", "fee_currency": "GOLD",
               "status": "partially_filled", "reason": "", "time_in_force": "gtc", "post_only": False,
               "self_trade": "cancel_resting", "created_at": "2026-11-25T12:00:00.123456Z",
               "updated_at": "2026-11-25T12:00:00.123456Z"},
        response_only=True,
        status_codes=["201"],
    ),
    ERROR_EXAMPLE,
]

CANCEL_EXAMPLES = [
    OpenApiExample(
        "already filled",
        value={"error": {"code": "order_not_open", "message": "The order is filled and cannot be cancelled."}},
        response_only=True,
        status_codes=["409"],
    ),
]


def order_request(market: Market, data: dict) -> OrderRequest:
    """The validated API input in minor units of the market's currencies, naming the market's symbol, so the order
    path checks it under the market's lock (the API's copy of the market may be out of date:
    selectors.market_for_order)."""
    base, quote = market.base.decimals, market.quote.decimals

    def amount(name: str, decimals: int):
        value = data.get(name)
        return None if value is None else parse_amount(value, decimals, field=name)

    return OrderRequest(
        side=data["side"],
        type=data["type"],
        quantity=amount("quantity", base),
        price=amount("price", quote),
        quote_budget=amount("quote_budget", quote),
        time_in_force=data["time_in_force"],
        post_only=data["post_only"],
        self_trade=data["self_trade"],
        client_order_id=data.get("client_order_id"),
        market=market.symbol,
    )


def _order_input(request) -> dict:
    form = OrderRequestSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    return form.validated_data


def _submit(user, market: Market, data: dict) -> Order:
    return writer.order_submit(user=user, market_id=market.pk, request=order_request(market, data))


class OrderListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"GET": "read", "POST": "trade", "DELETE": "trade"}

    @extend_schema(
        operation_id="orders_list",
        summary="Your orders, newest first",
        parameters=[_OrdersQuery],
        responses={200: OrderSerializer(many=True), **errors(*PRIVATE, 404)},
    )
    def get(self, request):
        query = _query(_OrdersQuery, request)
        market = selectors.market_get(symbol=query["market"]) if "market" in query else None
        open_only = {"open": True, "closed": False}.get(query.get("status"))
        return self.paginate(selectors.orders_for(user=request.user, market=market, open_only=open_only), OrderSerializer)

    @extend_schema(
        operation_id="orders_create",
        summary="Place an order",
        description="201 with the new order; 200 with the first order when client_order_id (or Idempotency-Key) "
        "repeats an earlier placement. Limit orders rest, market orders never do.",
        request=OrderRequestSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: OrderSerializer, 200: OrderSerializer, **errors(*PRIVATE, 404, 409, 503)},
        examples=PLACE_EXAMPLES,
    )
    @idempotent
    def post(self, request):
        data, started = _order_input(request), timezone.now()
        market = selectors.market_for_order(symbol=data["market"])
        try:
            placed = _submit(request.user, market, data)
        except (NotFound, InvalidAmount):
            # What an out-of-date copy of the market causes: the order path refuses (places nothing) when the key
            # names no market of this symbol, and old decimals may refuse the amounts. Once more with the market read
            # afresh; if the copy was the market as it is, the refusal stands.
            fresh = selectors.market_for_order(symbol=data["market"], fresh=True)
            if fresh.pk == market.pk:
                raise
            market, placed = fresh, _submit(request.user, fresh, data)
        placed.market = market
        replayed = placed.created_at < started  # the service returned an earlier order with this client id
        return Response(OrderSerializer(placed).data, status=status.HTTP_200_OK if replayed else status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="orders_cancel_all",
        summary="Cancel all your open orders in a market",
        parameters=[_CancelAllQuery],
        responses={200: CancelledOrdersSerializer, **errors(*PRIVATE, 404)},
    )
    def delete(self, request):
        market = selectors.market_get(symbol=_query(_CancelAllQuery, request)["market"])
        cancelled = services.orders_cancel_all(user=request.user, market_id=market.pk)
        for order in cancelled:
            order.market = market
        return Response({"market": market.symbol, "cancelled": OrderSerializer(cancelled, many=True).data})


class OrderTestView(ApiView):
    scopes = {"POST": "trade"}

    @extend_schema(
        operation_id="orders_test",
        summary="Validate an order fully, funds included, without placing it",
        request=OrderRequestSerializer,
        responses={200: OrderTestResultSerializer, **errors(*PRIVATE, 404, 409, 503)},
    )
    def post(self, request):
        data = _order_input(request)
        market = selectors.market_get(symbol=data["market"])  # afresh: the order test has no lock to check a copy
        order = order_request(market, data)
        hold = services.order_test(user=request.user, market=market, request=order)
        currency = market.quote if order.side == Order.Side.BUY else market.base
        return Response({"valid": True, "hold": currency.format(hold), "hold_currency": currency.code})


class OrderDetailView(ApiView):
    scopes = {"GET": "read", "DELETE": "trade"}

    @extend_schema(operation_id="orders_retrieve", summary="One of your orders", responses={200: OrderSerializer, **errors(401, 403, 404)})
    def get(self, request, order_id: int):
        order = selectors.orders_for(user=request.user).filter(pk=order_id).first()
        if order is None:
            raise NotFound("There is no such order.", fields={"order": ["No such order."]})
        return Response(OrderSerializer(order).data)

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel one of your open orders",
        responses={200: OrderSerializer, **errors(401, 403, 404, 409)},
        examples=CANCEL_EXAMPLES,
    )
    def delete(self, request, order_id: int):
        order = services.order_cancel(user=request.user, order_id=order_id)
        return Response(OrderSerializer(order).data)


class OrderByClientIdView(ApiView):
    scopes = {"GET": "read"}

    @extend_schema(operation_id="orders_by_client_id", summary="One of your orders by its client order id", responses={200: OrderSerializer, **errors(401, 403, 404)})
    def get(self, request, client_order_id: str):
        order = selectors.orders_for(user=request.user).filter(client_order_id=client_order_id).first()
        if order is None:
            raise NotFound("There is no such order.", fields={"order": ["No such order."]})
        return Response(OrderSerializer(order).data)


class FillListView(ApiView):
    pagination_class = IdCursorPagination
    scopes = {"GET": "read"}

    @extend_schema(
        operation_id="fills_list",
        summary="Your trades, newest first, from your side",
        parameters=[_FillsQuery],
        responses={200: FillSerializer(many=True), **errors(*PRIVATE, 404)},
    )
    def get(self, request):
        query = _query(_FillsQuery, request)
        market = selectors.market_get(symbol=query["market"]) if "market" in query else None
        return self.paginate(selectors.fills_for(user=request.user, market=market), FillSerializer, user=request.user)
