"""Ledger reads: supply figures, balances, movements. No writes here."""

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet, Sum

from exchange.errors import NotFound
from ledger.models import Account, Currency, Posting, SupplyChange, Transfer


@dataclass(frozen=True)
class SupplyFigures:
    total: int  # minted - burned
    circulating: int  # total - what the issuer itself holds
    holders: int  # user accounts with a positive balance
    minted: int
    burned: int


def currency_get(*, code: str) -> Currency:
    try:
        return Currency.objects.select_related("issuer").get(code=code)
    except Currency.DoesNotExist:
        raise NotFound(f"There is no currency {code[:12]}.", fields={"currency": ["No such currency."]}) from None


def user_get(*, username: str, field: str = "recipient") -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"There is no user called {username[:40]}.", fields={field: ["No such user."]}) from None


def currency_supply(*, currency: Currency) -> SupplyFigures:
    return currencies_supply(currencies=[currency])[currency.pk]


def currencies_supply(*, currencies: list[Currency]) -> dict[int, SupplyFigures]:
    """Supply figures for many currencies in four queries."""
    ids = [currency.pk for currency in currencies]
    issuer_of = {currency.pk: currency.issuer_id for currency in currencies}
    issuance = dict(
        Account.objects.filter(currency_id__in=ids, kind=Account.Kind.ISSUANCE).values_list("currency_id", "balance")
    )
    holders = dict(
        Account.objects.filter(currency_id__in=ids, kind=Account.Kind.USER, balance__gt=0)
        .values("currency_id")
        .annotate(count=Count("pk"))
        .values_list("currency_id", "count")
    )
    issuer_holds = {
        currency_id: balance
        for currency_id, user_id, balance in Account.objects.filter(
            currency_id__in=ids, kind=Account.Kind.USER, user_id__in=set(issuer_of.values())
        ).values_list("currency_id", "user_id", "balance")
        if issuer_of[currency_id] == user_id
    }
    changes = {
        (row["currency_id"], row["kind"]): row["total"]
        for row in SupplyChange.objects.filter(currency_id__in=ids)
        .values("currency_id", "kind")
        .annotate(total=Sum("amount"))
    }
    figures = {}
    for currency_id in ids:
        total = -issuance.get(currency_id, 0)
        figures[currency_id] = SupplyFigures(
            total=total,
            circulating=total - issuer_holds.get(currency_id, 0),
            holders=holders.get(currency_id, 0),
            minted=changes.get((currency_id, SupplyChange.Kind.MINT), 0),
            burned=changes.get((currency_id, SupplyChange.Kind.BURN), 0),
        )
    return figures


def supply_record(*, currency: Currency) -> QuerySet[SupplyChange]:
    return SupplyChange.objects.filter(currency=currency).order_by("-id")


def balances_for(*, user: User) -> QuerySet[Account]:
    return (
        Account.objects.filter(user=user, kind=Account.Kind.USER)
        .select_related("currency")
        .order_by("currency__code")
    )


def movements_for(*, user: User, limit: int = 20) -> QuerySet[Posting]:
    """The user's latest postings, newest first, with what is needed to describe them."""
    return (
        Posting.objects.filter(account__user=user, account__kind=Account.Kind.USER)
        .select_related("entry", "account__currency", "entry__transfer__sender", "entry__transfer__recipient")
        .order_by("-entry_id", "-id")[:limit]
    )


def transfers_for(*, user: User) -> QuerySet[Transfer]:
    return (
        Transfer.objects.filter(Q(sender=user) | Q(recipient=user))
        .select_related("sender", "recipient", "currency")
        .order_by("-id")
    )
