"""Helpers for asserting on the whole state of the exchange, and on what reaches the database."""

from django.core.management import call_command
from django.db import connection

from ledger.audit import run_all
from ledger.models import Account, JournalEntry, Posting, SupplyChange, Transfer


def ledger_state() -> dict:
    """Everything a failed operation must leave untouched."""
    return {
        "accounts": sorted(Account.objects.values_list("id", "currency_id", "user_id", "kind", "balance", "held")),
        "entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "transfers": Transfer.objects.count(),
        "supply_changes": SupplyChange.objects.count(),
    }


def sending_into(sent: list):
    """An execute wrapper (a context manager) keeping every query string sent through a cursor: one per round trip
    on PostgreSQL (exchange/db.run_statements)."""

    def sending(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    return connection.execute_wrapper(sending)


def assert_audit_passes() -> None:
    failures = [(title, violations) for title, violations in run_all() if violations]
    assert failures == [], failures
    call_command("audit", stdout=open("/dev/null", "w"))


def balance_of(user, currency) -> int:
    account = Account.objects.filter(user=user, currency=currency, kind=Account.Kind.USER).first()
    return account.balance if account else 0


def exchange_state() -> dict:
    """The whole state a refused request must leave byte for byte as it was: ledger, books, markets, keys, users."""
    from django.contrib.auth.models import User

    from api.models import ApiKey
    from ledger.models import Currency
    from markets.models import Market, Order, Trade

    return ledger_state() | {
        "orders": sorted(Order.objects.values_list("id", "status", "filled_quantity", "reserved", "price", "quantity")),
        "trades": Trade.objects.count(),
        "markets": sorted(Market.objects.values_list("id", "symbol", "status", "sequence", "tick", "lot")),
        "currencies": sorted(Currency.objects.values_list("code", "issuer_id", "max_supply", "minting_renounced_at")),
        "keys": sorted(ApiKey.objects.values_list("key_id", "user_id", "scopes", "revoked_at")),
        "users": sorted(User.objects.values_list("id", "username", "is_staff", "is_superuser")),
    }
