"""Markets, orders, trades and one-minute candles.

Quantities are base minor units; prices are quote minor units per one whole base unit. A market's lot × tick is
a multiple of 10^(base decimals), so every trade's quote amount (quantity × price / 10^decimals) is exact.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from ledger.models import Currency, JournalEntry

OPEN_STATUSES = ("open", "partially_filled")


class Market(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        HALTED = "halted", "Halted"

    symbol = models.CharField(max_length=25, unique=True)
    base = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="base_markets")
    quote = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="quote_markets")
    tick = models.BigIntegerField(help_text="Price step, in quote minor units per whole base unit.")
    lot = models.BigIntegerField(help_text="Quantity step, in base minor units.")
    min_quantity = models.BigIntegerField(help_text="Smallest order, in base minor units.")
    maker_fee_bps = models.PositiveSmallIntegerField(default=0)
    taker_fee_bps = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    halt_reason = models.CharField(max_length=200, blank=True)
    # Rises by one with every committed change to the book; deltas carry it.
    sequence = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(fields=["base", "quote"], name="market_one_per_pair"),
            models.CheckConstraint(condition=~Q(base=F("quote")), name="market_two_currencies"),
            models.CheckConstraint(condition=Q(tick__gt=0, lot__gt=0), name="market_steps_positive"),
            models.CheckConstraint(condition=Q(min_quantity__gte=F("lot")), name="market_min_at_least_lot"),
            models.CheckConstraint(
                condition=Q(maker_fee_bps__lte=1000, taker_fee_bps__lte=1000), name="market_fees_at_most_10pct"
            ),
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class Order(models.Model):
    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    class Type(models.TextChoices):
        LIMIT = "limit", "Limit"
        MARKET = "market", "Market"

    class TimeInForce(models.TextChoices):
        GTC = "gtc", "Good till cancelled"
        IOC = "ioc", "Immediate or cancel"
        FOK = "fok", "Fill or kill"

    class SelfTrade(models.TextChoices):
        CANCEL_RESTING = "cancel_resting", "Cancel the resting order"
        CANCEL_INCOMING = "cancel_incoming", "Cancel the incoming order"
        CANCEL_BOTH = "cancel_both", "Cancel both"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTIALLY_FILLED = "partially_filled", "Partially filled"
        FILLED = "filled", "Filled"
        CANCELLED = "cancelled", "Cancelled"
        REJECTED = "rejected", "Rejected"

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="orders")
    # No index of its own: order_user_market leads with it (tests/markets/test_indexes.py).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders", db_index=False)
    client_order_id = models.CharField(max_length=64, null=True, blank=True)
    side = models.CharField(max_length=4, choices=Side.choices)
    type = models.CharField(max_length=6, choices=Type.choices)
    time_in_force = models.CharField(max_length=3, choices=TimeInForce.choices, default=TimeInForce.GTC)
    post_only = models.BooleanField(default=False)
    self_trade = models.CharField(max_length=16, choices=SelfTrade.choices, default=SelfTrade.CANCEL_RESTING)
    price = models.BigIntegerField(null=True, blank=True)  # null for market orders
    quantity = models.BigIntegerField(null=True, blank=True)  # null for a market buy that spends a budget
    quote_budget = models.BigIntegerField(null=True, blank=True)  # market buys only
    filled_quantity = models.BigIntegerField(default=0)
    filled_quote = models.BigIntegerField(default=0)
    fees_paid = models.BigIntegerField(default=0)  # in the currency the order receives
    # What the account still holds for this order: quote for buys, base for sells. Zero once closed.
    reserved = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.CharField(max_length=32, blank=True)  # why it was cancelled or rejected
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_order_id"],
                condition=Q(client_order_id__isnull=False),
                name="order_client_id_per_user",
            ),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="order_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(filled_quantity__lte=F("quantity")),
                name="order_not_overfilled",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OPEN_STATUSES) | Q(reserved=0), name="order_closed_holds_nothing"
            ),
        ]
        indexes = [
            # The book: open orders by side in priority order. Partial, so filled history never slows it.
            models.Index(
                "market", "price", "id", condition=Q(status__in=OPEN_STATUSES, side="sell"), name="order_asks"
            ),
            models.Index(
                "market", F("price").desc(), "id", condition=Q(status__in=OPEN_STATUSES, side="buy"), name="order_bids"
            ),
            models.Index(fields=["user", "market", "-id"], name="order_user_market"),
            models.Index(
                fields=["user", "market"], condition=Q(status__in=OPEN_STATUSES), name="order_user_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.market_id} #{self.pk}"

    @property
    def remaining(self) -> int | None:
        return None if self.quantity is None else self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class BookLevel(models.Model):
    """The open quantity at one price on one side of a book: the sum of its open orders' remaining quantities.

    Kept by the settlement in the same statements that change the orders (audit check 6b), so a snapshot reads
    `depth` rows however many orders rest at each price, and a changed level's new total costs one row.
    A level with nothing left is deleted.
    """

    # Unindexed foreign keys here and below: a composite index leads with the column, and every index is one more
    # write per row on the order path (tests/markets/test_indexes.py).
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="levels", db_index=False)
    side = models.CharField(max_length=4, choices=Order.Side.choices)
    price = models.BigIntegerField()
    quantity = models.BigIntegerField()

    class Meta:
        constraints = [
            # Also the index a snapshot reads, best first, in either direction.
            models.UniqueConstraint(fields=["market", "side", "price"], name="book_level_one_per_price"),
        ]
        # No CHECK (quantity >= 0): PostgreSQL checks the row an upsert proposes, which carries a negative change.
        # A trigger refuses a negative total instead (migration 0004), and audit check 6b compares.


class Trade(models.Model):
    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="trades", db_index=False)
    price = models.BigIntegerField()
    quantity = models.BigIntegerField()
    quote_amount = models.BigIntegerField()
    taker_side = models.CharField(max_length=4, choices=Order.Side.choices)
    taker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="taker_trades")
    maker_order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="maker_trades")
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    seller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    buyer_fee = models.BigIntegerField(default=0)  # base minor units
    seller_fee = models.BigIntegerField(default=0)  # quote minor units
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="trade")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0, price__gt=0, quote_amount__gt=0), name="trade_positive")
        ]
        indexes = [
            models.Index(fields=["market", "-id"], name="trade_market_recent"),
            models.Index(fields=["buyer", "-id"], name="trade_buyer"),
            models.Index(fields=["seller", "-id"], name="trade_seller"),
        ]


class Candle(models.Model):
    """One minute of a market's trades; longer intervals are rolled up from these on read."""

    market = models.ForeignKey(Market, on_delete=models.CASCADE, related_name="candles", db_index=False)
    start = models.DateTimeField()
    open = models.BigIntegerField()
    high = models.BigIntegerField()
    low = models.BigIntegerField()
    close = models.BigIntegerField()
    volume = models.BigIntegerField()  # base minor units
    quote_volume = models.BigIntegerField()
    trades = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["market", "start"], name="candle_one_per_minute")]
