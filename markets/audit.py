"""Checks of the markets' invariants (DESIGN.md 4-7), registered with the ledger's audit."""

from django.db.models import F, Max, Min, Q, Sum

from ledger.audit import register
from ledger.models import Account, Posting
from markets.models import OPEN_STATUSES, BookLevel, Market, Order, Trade


@register("4. each account's held equals what its open orders still reserve")
def check_holds_match_open_orders() -> list[str]:
    reserved: dict[tuple[int, int], int] = {}
    open_orders = Order.objects.filter(status__in=OPEN_STATUSES).values("user_id", "side", "market__base_id", "market__quote_id")
    for row in open_orders.annotate(total=Sum("reserved")):
        currency_id = row["market__quote_id"] if row["side"] == "buy" else row["market__base_id"]
        key = (row["user_id"], currency_id)
        reserved[key] = reserved.get(key, 0) + row["total"]
    problems = []
    held = Account.objects.filter(Q(held__gt=0) | Q(user_id__in={user for user, _ in reserved}), kind="user")
    for user_id, currency_id, amount in held.values_list("user_id", "currency_id", "held"):
        expected = reserved.pop((user_id, currency_id), 0)
        if amount != expected:
            problems.append(f"user {user_id} currency {currency_id}: held {amount}, open orders reserve {expected}")
    problems += [f"user {u} currency {c}: open orders reserve {v} but no account holds it" for (u, c), v in reserved.items() if v]
    return problems


@register("5. every trade moved exactly qty base and qty x price quote, fees included, no rounding")
def check_trades_exact() -> list[str]:
    problems = []
    scales = {m.pk: 10**m.base.decimals for m in Market.objects.select_related("base")}
    bases = dict(Market.objects.values_list("pk", "base_id"))
    for trade in Trade.objects.values("id", "market_id", "price", "quantity", "quote_amount", "entry_id").iterator(2000):
        if trade["quantity"] * trade["price"] != trade["quote_amount"] * scales[trade["market_id"]]:
            problems.append(f"trade {trade['id']}: quote amount is not quantity x price")
    # Within each trade's entry, the base leg paid by the seller is the trade's quantity, the quote leg its amount.
    legs = (
        Posting.objects.filter(entry__trade__isnull=False, amount__lt=0)
        .values("entry__trade__id", "entry__trade__market_id", "account__currency_id", "amount",
                "entry__trade__quantity", "entry__trade__quote_amount")
        .iterator(2000)
    )
    for leg in legs:
        is_base = leg["account__currency_id"] == bases[leg["entry__trade__market_id"]]
        expected = leg["entry__trade__quantity"] if is_base else leg["entry__trade__quote_amount"]
        if -leg["amount"] != expected:
            problems.append(f"trade {leg['entry__trade__id']}: a leg moved {-leg['amount']}, expected {expected}")
    return problems[:50]


@register("6. no book is crossed: best bid < best ask")
def check_books_not_crossed() -> list[str]:
    problems = []
    for market in Market.objects.all():
        open_orders = Order.objects.filter(market=market, status__in=OPEN_STATUSES)
        best_bid = open_orders.filter(side="buy").aggregate(p=Max("price"))["p"]
        best_ask = open_orders.filter(side="sell").aggregate(p=Min("price"))["p"]
        if best_bid is not None and best_ask is not None and best_bid >= best_ask:
            problems.append(f"{market.symbol}: best bid {best_bid} >= best ask {best_ask}")
    return problems


@register("6b. every book level holds exactly the open quantity of its orders")
def check_book_levels_match_orders() -> list[str]:
    expected = {
        (row["market_id"], row["side"], row["price"]): row["total"]
        for row in Order.objects.filter(status__in=OPEN_STATUSES)
        .values("market_id", "side", "price")
        .annotate(total=Sum(F("quantity") - F("filled_quantity")))
    }
    problems = []
    for market_id, side, price, quantity in BookLevel.objects.values_list("market_id", "side", "price", "quantity"):
        should = expected.pop((market_id, side, price), 0)
        if quantity != should:
            problems.append(f"market {market_id} {side} {price}: level says {quantity}, open orders hold {should}")
    problems += [f"market {m} {side} {price}: open orders hold {q} but there is no level" for (m, side, price), q in expected.items()]
    return problems[:50]


@register("7. orders are consistent: never overfilled, closed ones hold nothing, filled means complete")
def check_orders_consistent() -> list[str]:
    bad = Order.objects.filter(
        Q(quantity__isnull=False, filled_quantity__gt=F("quantity"))
        | (~Q(status__in=OPEN_STATUSES) & ~Q(reserved=0))
        | Q(status="filled", quantity__isnull=False) & ~Q(filled_quantity=F("quantity"))
        | Q(status__in=OPEN_STATUSES, type="market")
    )
    return [f"order {o.pk}: status {o.status}, filled {o.filled_quantity}/{o.quantity}, reserved {o.reserved}" for o in bad[:50]]
