"""API shapes of markets, orders, fills and market data. Amounts are decimal strings in each market's currencies."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.cached import FieldsBuiltOnce
from api.fields import DECIMAL_SCHEMA, AmountField, DecimalStringField
from api.strict import RequestSerializer
from markets.models import Market, Order, Trade

NULLABLE_DECIMAL = {**DECIMAL_SCHEMA, "nullable": True}


class MarketSerializer(serializers.ModelSerializer):
    base = serializers.CharField(source="base.code")
    quote = serializers.CharField(source="quote.code")
    tick = AmountField(currency="quote", help_text="Price step, in the quote currency.")
    lot = AmountField(currency="base", help_text="Quantity step, in the base currency.")
    min_quantity = AmountField(currency="base")
    precision = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()

    class Meta:
        model = Market
        fields = [
            "symbol", "base", "quote", "tick", "lot", "min_quantity", "maker_fee_bps", "taker_fee_bps", "status",
            "halt_reason", "sequence", "precision", "limits", "created_at",
        ]

    @extend_schema_field({"type": "object", "properties": {"price": {"type": "integer"}, "quantity": {"type": "integer"}}})
    def get_precision(self, market: Market) -> dict:
        """Decimal places of prices (the quote's) and quantities (the base's)."""
        return {"price": market.quote.decimals, "quantity": market.base.decimals}

    @extend_schema_field(
        {"type": "object", "properties": {"quantity": {"type": "object", "properties": {"min": DECIMAL_SCHEMA, "step": DECIMAL_SCHEMA}}, "price": {"type": "object", "properties": {"step": DECIMAL_SCHEMA}}}}
    )
    def get_limits(self, market: Market) -> dict:
        return {
            "quantity": {"min": market.base.format(market.min_quantity), "step": market.base.format(market.lot)},
            "price": {"step": market.quote.format(market.tick)},
        }


class MarketCreateSerializer(RequestSerializer):
    base = serializers.CharField(max_length=12)
    quote = serializers.CharField(max_length=12)
    tick = DecimalStringField(required=False, help_text="Price step in the quote currency; a sensible default.")
    lot = DecimalStringField(required=False, help_text="Quantity step in the base currency.")
    min_quantity = DecimalStringField(required=False)
    maker_fee_bps = serializers.IntegerField(min_value=0, max_value=1000, default=0)
    taker_fee_bps = serializers.IntegerField(min_value=0, max_value=1000, default=0)


class BookSerializer(serializers.Serializer):
    market = serializers.CharField()
    sequence = serializers.IntegerField(help_text="Apply websocket deltas with sequence + 1 onwards.")
    bids = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2), help_text='[["price", "quantity"], ...], best first.')
    asks = serializers.ListField(child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2))


class TradeSerializer(serializers.ModelSerializer):
    price = AmountField(currency="market.quote")
    quantity = AmountField(currency="market.base")
    time = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Trade
        fields = ["id", "price", "quantity", "taker_side", "time"]


@extend_schema_field(NULLABLE_DECIMAL)
class _Decimal(serializers.CharField):
    pass


class TickerSerializer(serializers.Serializer):
    market = serializers.CharField()
    last = _Decimal(allow_null=True)
    best_bid = _Decimal(allow_null=True)
    best_ask = _Decimal(allow_null=True)
    open = _Decimal(allow_null=True, help_text="The price 24 h ago.")
    high = _Decimal(allow_null=True)
    low = _Decimal(allow_null=True)
    volume = serializers.CharField(help_text="Base volume over 24 h.")
    quote_volume = serializers.CharField()
    change_percent = serializers.CharField(allow_null=True, help_text='Such as "-1.25".')


class CandleSerializer(serializers.Serializer):
    time = serializers.DateTimeField(help_text="Start of the bar, UTC.")
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField()


class OrderSerializer(FieldsBuiltOnce, serializers.ModelSerializer):  # every placed order answers with one
    market = serializers.CharField(source="market.symbol")
    price = AmountField(currency="market.quote")
    quantity = AmountField(currency="market.base")
    quote_budget = AmountField(currency="market.quote")
    filled_quantity = AmountField(currency="market.base")
    filled_quote = AmountField(currency="market.quote")
    average_price = serializers.SerializerMethodField()
    fees_paid = serializers.SerializerMethodField()
    fee_currency = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = [
            "id", "client_order_id", "market", "side", "type", "price", "quantity", "quote_budget",
            "filled_quantity", "filled_quote", "average_price", "fees_paid", "fee_currency", "status", "reason",
            "time_in_force", "post_only", "self_trade", "created_at", "updated_at",
        ]

    def to_representation(self, order: Order) -> dict:
        """What the fields above give (the schema is theirs; a test holds the two equal), written out: every placed
        order answers with this, and the generic way (a copy of each field, then a lookup per field) was a tenth of
        a REST order's CPU."""
        market = order.market
        base, quote = market.base, market.quote
        return {
            "id": order.pk,
            "client_order_id": order.client_order_id,
            "market": market.symbol,
            "side": str(order.side),
            "type": str(order.type),
            "price": _amount(order.price, quote),
            "quantity": _amount(order.quantity, base),
            "quote_budget": _amount(order.quote_budget, quote),
            "filled_quantity": _amount(order.filled_quantity, base),
            "filled_quote": _amount(order.filled_quote, quote),
            "average_price": self.get_average_price(order),
            "fees_paid": self.get_fees_paid(order),
            "fee_currency": self.get_fee_currency(order),
            "status": str(order.status),
            "reason": str(order.reason),
            "time_in_force": str(order.time_in_force),
            "post_only": bool(order.post_only),
            "self_trade": str(order.self_trade),
            "created_at": _TIME.to_representation(order.created_at),
            "updated_at": _TIME.to_representation(order.updated_at),
        }

    @extend_schema_field(NULLABLE_DECIMAL)
    def get_average_price(self, order: Order) -> str | None:
        if not order.filled_quantity:
            return None
        market = order.market
        return market.quote.format(order.filled_quote * 10**market.base.decimals // order.filled_quantity)

    @extend_schema_field(DECIMAL_SCHEMA)
    def get_fees_paid(self, order: Order) -> str:
        """Fees come out of what the order receives: base for buys, quote for sells."""
        return self._receives(order).format(order.fees_paid)

    def get_fee_currency(self, order: Order) -> str:
        return self._receives(order).code

    @staticmethod
    def _receives(order: Order):
        return order.market.base if order.side == Order.Side.BUY else order.market.quote


_TIME = serializers.DateTimeField()  # unbound: its output depends on settings only


def _amount(minor_units: int | None, currency) -> str | None:
    return None if minor_units is None else currency.format(minor_units)


class OrderRequestSerializer(RequestSerializer):
    market = serializers.CharField(max_length=25, help_text="Symbol, such as GOLD-BUCK.")
    side = serializers.ChoiceField(choices=Order.Side.choices)
    type = serializers.ChoiceField(choices=Order.Type.choices, default=Order.Type.LIMIT)
    quantity = DecimalStringField(required=False, allow_null=True, help_text="In the base currency.")
    price = DecimalStringField(required=False, allow_null=True, help_text="Limit orders: quote per one base.")
    quote_budget = DecimalStringField(required=False, allow_null=True, help_text="Market buys: the most to spend.")
    time_in_force = serializers.ChoiceField(choices=Order.TimeInForce.choices, default=Order.TimeInForce.GTC)
    post_only = serializers.BooleanField(default=False)
    self_trade = serializers.ChoiceField(
        choices=Order.SelfTrade.choices,
        default=Order.SelfTrade.CANCEL_RESTING,
        help_text="Self-trade prevention when the order would meet your own: cancel_resting by default.",
    )
    client_order_id = serializers.CharField(
        max_length=64, required=False, allow_null=True, help_text="Unique per user: a retry returns the same order."
    )


class CancelledOrdersSerializer(serializers.Serializer):
    market = serializers.CharField()
    cancelled = OrderSerializer(many=True)


class OrderTestResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    hold = serializers.CharField(help_text="What placing the order would hold.")
    hold_currency = serializers.CharField()


class FillSerializer(serializers.ModelSerializer):
    """One of the user's trades, from their side (`context["user"]`)."""

    market = serializers.CharField(source="market.symbol")
    order_id = serializers.SerializerMethodField()
    side = serializers.SerializerMethodField()
    price = AmountField(currency="market.quote")
    quantity = AmountField(currency="market.base")
    quote_amount = AmountField(currency="market.quote")
    fee = serializers.SerializerMethodField()
    fee_currency = serializers.SerializerMethodField()
    liquidity = serializers.SerializerMethodField()
    time = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Trade
        fields = [
            "id", "order_id", "market", "side", "price", "quantity", "quote_amount", "fee", "fee_currency",
            "liquidity", "time",
        ]

    def _buys(self, trade: Trade) -> bool:
        return trade.buyer_id == self.context["user"].pk

    def get_side(self, trade: Trade) -> str:
        return "buy" if self._buys(trade) else "sell"

    def get_liquidity(self, trade: Trade) -> str:
        return "taker" if self.get_side(trade) == trade.taker_side else "maker"

    def get_order_id(self, trade: Trade) -> int:
        return trade.taker_order_id if self.get_liquidity(trade) == "taker" else trade.maker_order_id

    @extend_schema_field(DECIMAL_SCHEMA)
    def get_fee(self, trade: Trade) -> str:
        if self._buys(trade):
            return trade.market.base.format(trade.buyer_fee)
        return trade.market.quote.format(trade.seller_fee)

    def get_fee_currency(self, trade: Trade) -> str:
        return (trade.market.base if self._buys(trade) else trade.market.quote).code
