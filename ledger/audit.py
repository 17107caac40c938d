"""Checks of the ledger's invariants (DESIGN.md 1-3). Other apps register their own checks here.

Each check returns a list of human-readable violations; an empty list means it holds.
"""

from collections.abc import Callable

from django.db import connection
from django.db.models import F, Q, Sum

from ledger.models import Account, Posting, SupplyChange

Check = Callable[[], list[str]]
CHECKS: list[tuple[str, Check]] = []


def register(title: str) -> Callable[[Check], Check]:
    def decorator(check: Check) -> Check:
        CHECKS.append((title, check))
        return check

    return decorator


def run_all(only: set[str] | None = None) -> list[tuple[str, list[str]]]:
    """Every registered check (or those titled in `only`) with its violations, in registration order."""
    return [(title, check()) for title, check in CHECKS if only is None or title in only]


@register("1. per currency, all balances sum to zero")
def check_currency_sums() -> list[str]:
    sums = Account.objects.values("currency__code").annotate(total=Sum("balance")).filter(~Q(total=0))
    return [f"{row['currency__code']}: balances sum to {row['total']}" for row in sums]


@register("2. every balance equals the sum of its postings")
def check_balances_match_postings() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id, a.balance, COALESCE(p.total, 0)
            FROM {Account._meta.db_table} a
            LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM {Posting._meta.db_table} GROUP BY account_id) p
              ON p.account_id = a.id
            WHERE a.balance <> COALESCE(p.total, 0)
            """
        )
        return [f"account {pk}: balance {balance} but postings sum to {total}" for pk, balance, total in cursor]


@register("2b. every journal entry balances per currency")
def check_entries_balance() -> list[str]:
    rows = (
        Posting.objects.values("entry_id", "account__currency_id")
        .annotate(total=Sum("amount"))
        .filter(~Q(total=0))[:20]
    )
    return [f"entry {row['entry_id']} is off by {row['total']} in currency {row['account__currency_id']}" for row in rows]


@register("3. no user balance below zero; 0 <= held <= balance")
def check_balances_non_negative() -> list[str]:
    bad = Account.objects.filter(
        Q(kind=Account.Kind.USER) & (Q(balance__lt=0) | Q(held__lt=0) | Q(held__gt=F("balance")))
    )
    return [f"account {a.pk}: balance {a.balance}, held {a.held}" for a in bad[:20]]


@register("3b. every issuance account holds minus (minted - burned)")
def check_supply_matches_record() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.currency_id, a.balance, COALESCE(s.net, 0)
            FROM {Account._meta.db_table} a
            LEFT JOIN (
                SELECT currency_id, SUM(CASE WHEN kind = 'mint' THEN amount ELSE -amount END) AS net
                FROM {SupplyChange._meta.db_table} GROUP BY currency_id
            ) s ON s.currency_id = a.currency_id
            WHERE a.kind = 'issuance' AND a.balance <> -COALESCE(s.net, 0)
            """
        )
        return [f"currency {c}: issuance balance {b}, but minted - burned = {n}" for c, b, n in cursor]


@register("3c. a supply cap is never passed")
def check_supply_caps() -> list[str]:
    past_cap = Account.objects.filter(
        kind=Account.Kind.ISSUANCE, currency__max_supply__isnull=False, balance__lt=-F("currency__max_supply")
    ).select_related("currency")
    return [f"{a.currency.code}: supply {-a.balance} is past its cap {a.currency.max_supply}" for a in past_cap]
