"""The one lock order every money-moving service follows, so no two services can deadlock each other.

1. the market row (markets.services takes it first, when a market is involved);
2. accounts, by primary key ascending.

Locks are taken before anything is checked, and held until the service's transaction commits.
"""

from collections.abc import Iterable

from ledger.models import Account


def lock_accounts(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the given accounts in key order and return them by id. Call inside a transaction."""
    ids = sorted(set(account_ids))
    locked = Account.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    accounts = {account.pk: account for account in locked}
    missing = set(ids) - accounts.keys()
    if missing:
        raise LookupError(f"accounts {sorted(missing)} do not exist")
    return accounts
