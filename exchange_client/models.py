"""Typed results: the API's JSON as frozen dataclasses, decimal strings as `Decimal`, times as aware `datetime`.

Each class has `from_api(data)`. Fields the server may leave out (the private order stream carries fewer fields
than REST) default to None, so one class serves both the REST answer and the websocket message.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal


def decimal(value) -> Decimal | None:
    return None if value is None else Decimal(value)


def timestamp(value) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)  # Python 3.11 reads the trailing "Z"


def _pick(cls, data: dict, **converted) -> dict:
    """The keys of `data` that `cls` declares (the server may add more: old clients must not break)."""
    names = {f.name for f in fields(cls)}
    return {name: value for name, value in data.items() if name in names} | converted


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    lot: Decimal
    min_quantity: Decimal
    maker_fee_bps: int
    taker_fee_bps: int
    status: str
    price_decimals: int
    quantity_decimals: int

    @classmethod
    def from_api(cls, data: dict) -> Market:
        return cls(
            symbol=data["symbol"], base=data["base"], quote=data["quote"], tick=Decimal(data["tick"]),
            lot=Decimal(data["lot"]), min_quantity=Decimal(data["min_quantity"]),
            maker_fee_bps=data["maker_fee_bps"], taker_fee_bps=data["taker_fee_bps"], status=data["status"],
            price_decimals=data["precision"]["price"], quantity_decimals=data["precision"]["quantity"],
        )

    def round_price(self, price: Decimal, *, up: bool = False) -> Decimal:
        """The nearest valid price at or below (or above, with up=True) `price`; never below one tick."""
        steps = (price / self.tick).to_integral_value(rounding="ROUND_CEILING" if up else "ROUND_FLOOR")
        return (max(steps, 1) * self.tick).quantize(self.tick)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """The largest whole number of lots in `quantity`, but at least the market's minimum."""
        lots = (quantity / self.lot).to_integral_value(rounding="ROUND_FLOOR")
        return max(lots * self.lot, self.min_quantity).quantize(self.lot)


@dataclass(frozen=True)
class Currency:
    code: str
    name: str
    decimals: int
    issuer: str
    total_supply: Decimal
    circulating_supply: Decimal
    holders: int
    max_supply: Decimal | None
    minting_renounced: bool

    @classmethod
    def from_api(cls, data: dict) -> Currency:
        return cls(**_pick(cls, data, total_supply=Decimal(data["total_supply"]),
                           circulating_supply=Decimal(data["circulating_supply"]),
                           max_supply=decimal(data.get("max_supply"))))


@dataclass(frozen=True)
class Balance:
    currency: str
    balance: Decimal
    held: Decimal
    available: Decimal

    @classmethod
    def from_api(cls, data: dict) -> Balance:
        return cls(currency=data["currency"], balance=Decimal(data["balance"]), held=Decimal(data["held"]),
                   available=Decimal(data["available"]))


OPEN_STATUSES = ("open", "partially_filled")


@dataclass(frozen=True)
class Order:
    id: int
    market: str
    side: str
    status: str
    type: str | None = None
    client_order_id: str | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    quote_budget: Decimal | None = None
    filled_quantity: Decimal | None = None
    filled_quote: Decimal | None = None
    average_price: Decimal | None = None
    fees_paid: Decimal | None = None
    fee_currency: str | None = None
    reason: str = ""
    time_in_force: str | None = None
    post_only: bool | None = None
    self_trade: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_api(cls, data: dict) -> Order:
        amounts = ("price", "quantity", "quote_budget", "filled_quantity", "filled_quote", "average_price", "fees_paid")
        return cls(**_pick(cls, data, **{name: decimal(data.get(name)) for name in amounts},
                           created_at=timestamp(data.get("created_at")), updated_at=timestamp(data.get("updated_at"))))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class Fill:
    """One of your trades, from your side (REST /fills and the private `fills` stream)."""

    id: int  # the trade's id
    order_id: int
    market: str
    side: str
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: str  # "maker" or "taker"
    time: datetime
    quote_amount: Decimal | None = None

    @classmethod
    def from_api(cls, data: dict) -> Fill:
        return cls(**_pick(cls, data, price=Decimal(data["price"]), quantity=Decimal(data["quantity"]),
                           fee=Decimal(data["fee"]), quote_amount=decimal(data.get("quote_amount")),
                           time=timestamp(data["time"])))


@dataclass(frozen=True)
class Trade:
    """A public trade (REST /markets/{symbol}/trades and the `trades` stream)."""

    id: int
    price: Decimal
    quantity: Decimal
    taker_side: str
    time: datetime
    market: str | None = None

    @classmethod
    def from_api(cls, data: dict, market: str | None = None) -> Trade:
        return cls(id=data["id"], price=Decimal(data["price"]), quantity=Decimal(data["quantity"]),
                   taker_side=data["taker_side"], time=timestamp(data["time"]), market=data.get("market", market))


@dataclass(frozen=True)
class Ticker:
    market: str
    last: Decimal | None
    best_bid: Decimal | None
    best_ask: Decimal | None
    open: Decimal | None
    high: Decimal | None
    low: Decimal | None
    volume: Decimal
    change_percent: Decimal | None
    quote_volume: Decimal | None = None

    @classmethod
    def from_api(cls, data: dict) -> Ticker:
        prices = ("last", "best_bid", "best_ask", "open", "high", "low", "change_percent", "quote_volume")
        return cls(**_pick(cls, data, volume=Decimal(data["volume"]), **{p: decimal(data.get(p)) for p in prices}))


@dataclass(frozen=True)
class Candle:
    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    market: str | None = None
    interval: str | None = None

    @classmethod
    def from_api(cls, data: dict) -> Candle:
        ohlcv = ("open", "high", "low", "close", "volume")
        return cls(**_pick(cls, data, time=timestamp(data["time"]), **{k: Decimal(data[k]) for k in ohlcv}))


Level = tuple[Decimal, Decimal]  # (price, quantity)


@dataclass(frozen=True)
class Book:
    """A level-2 snapshot: bids best (highest) first, asks best (lowest) first, at `sequence`."""

    market: str
    sequence: int
    bids: list[Level]
    asks: list[Level]

    @classmethod
    def from_api(cls, data: dict) -> Book:
        def levels(rows):
            return [(Decimal(price), Decimal(quantity)) for price, quantity in rows]

        return cls(market=data["market"], sequence=data["sequence"], bids=levels(data["bids"]),
                   asks=levels(data["asks"]))


@dataclass(frozen=True)
class Transfer:
    id: int
    sender: str
    recipient: str
    currency: str
    amount: Decimal
    memo: str
    created_at: datetime

    @classmethod
    def from_api(cls, data: dict) -> Transfer:
        return cls(**_pick(cls, data, amount=Decimal(data["amount"]), created_at=timestamp(data["created_at"])))


@dataclass(frozen=True)
class OrderTest:
    """What placing the order would hold, had it been placed."""

    hold: Decimal
    hold_currency: str

    @classmethod
    def from_api(cls, data: dict) -> OrderTest:
        return cls(hold=Decimal(data["hold"]), hold_currency=data["hold_currency"])


@dataclass
class LocalBook:
    """An order book kept from a snapshot and the deltas after it (see Feed): levels keyed by price."""

    market: str
    sequence: int = -1
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)
    synced: bool = False  # False between a gap and the fresh snapshot that repairs it

    def reset(self, snapshot: dict) -> None:
        self.sequence = snapshot["sequence"]
        self.bids = {Decimal(p): Decimal(q) for p, q in snapshot["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snapshot["asks"]}
        self.synced = True

    def apply(self, delta: dict) -> bool:
        """Apply a delta if it is the next in sequence; return False (and mark the book stale) if it is not."""
        if not self.synced:
            return False
        if delta["sequence"] <= self.sequence:
            return True  # already in the snapshot: harmless
        if delta["sequence"] != self.sequence + 1:
            self.synced = False
            return False
        for change in delta["changes"]:
            side = self.bids if change["side"] == "buy" else self.asks
            price, quantity = Decimal(change["price"]), Decimal(change["quantity"])
            if quantity:
                side[price] = quantity
            else:
                side.pop(price, None)
        self.sequence = delta["sequence"]
        return True

    def snapshot(self, depth: int | None = None) -> Book:
        """The local book in the REST snapshot's shape, to compare or to read best-first."""
        bids = sorted(self.bids.items(), reverse=True)[:depth]
        asks = sorted(self.asks.items())[:depth]
        return Book(market=self.market, sequence=self.sequence, bids=bids, asks=asks)

    @property
    def best_bid(self) -> Decimal | None:
        return max(self.bids) if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return min(self.asks) if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if self.best_bid is None or self.best_ask is None:
            return self.best_bid or self.best_ask
        return (self.best_bid + self.best_ask) / 2
