"""The one lock order every money-moving service follows, so no two services can deadlock each other.

1. the market row (markets.services takes it first, when a market is involved);
2. accounts, by primary key ascending.

Locks are taken before anything is checked, and held until the service's transaction commits.
"""

from collections.abc import Iterable, Sequence

from django.db import connection

from exchange.db import Statement, constant, from_rows
from ledger.models import Account

ACCOUNT_FIELDS = [
    field.attname
    for field in Account._meta.concrete_fields
    if field.attname in {"id", "currency_id", "user_id", "kind", "balance", "held"}
]


def lock_accounts(account_ids: Iterable[int]) -> dict[int, Account]:
    """Lock the given accounts in key order and return them by id. Call inside a transaction."""
    ids = sorted(set(account_ids))
    locked = Account.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    accounts = {account.pk: account for account in locked}
    missing = set(ids) - accounts.keys()
    if missing:
        raise LookupError(f"accounts {sorted(missing)} do not exist")
    return accounts


def accounts_lock_statement(
    *,
    currency_ids: Sequence[int] = (),
    currencies_in: Statement | None = None,
    user_ids: Sequence[int],
    fees: bool,
    only_if: Statement | None = None,
    lock: bool = True,
) -> Statement:
    """Lock users' accounts in the given currencies (and, with `fees`, those currencies' fee accounts) in key order:
    the same order as lock_accounts, as one plain statement the order path can send with others
    (exchange/db.run_statements). `currencies_in`, a subquery (SQL and its parameters), may stand for
    `currency_ids`; `only_if`, an SQL condition (and its parameters): when it is false nothing is locked;
    `lock=False` reads the same rows without locking them."""
    if currencies_in is not None:
        currencies, currency_params = currencies_in
    else:
        currencies, currency_params = ", ".join(["%s"] * len(currency_ids)), list(currency_ids)
    users = ", ".join(["%s"] * len(user_ids))
    wanted = f"(kind = {constant(Account.Kind.USER.value)} AND user_id IN ({users}) AND currency_id IN ({currencies}))"
    params = [*user_ids, *currency_params]
    if fees:
        wanted += f" OR (kind = {constant(Account.Kind.FEE.value)} AND currency_id IN ({currencies}))"
        params += currency_params
    if only_if is not None:
        wanted = f"({wanted}) AND {only_if[0]}"
        params += only_if[1]
    return _accounts_statement(wanted, params, lock=lock)


def accounts_pairs_lock_statement(*, pairs: Sequence[tuple[int, int]], fee_currency_ids: Sequence[int]) -> Statement:
    """Lock the users' accounts given as (user, currency) pairs and the fee accounts of the given currencies, in key
    order (what a batch of orders in several markets touched, and no more)."""
    user = constant(Account.Kind.USER.value)
    fee = constant(Account.Kind.FEE.value)
    if connection.vendor == "postgresql":
        # Arrays: one statement text (prepared once) however many accounts. Written as a join, not `(user_id,
        # currency_id) IN (SELECT * FROM unnest(...)) OR ...`, whose generic plan read the whole table (0.3 s at
        # a million accounts); this one takes the two unique indexes.
        table = Account._meta.db_table
        users, currencies = ([pair[index] for pair in pairs] for index in (0, 1))
        wanted = (
            f"id IN (SELECT a.id FROM unnest(%s::bigint[], %s::bigint[]) AS w(user_id, currency_id) JOIN {table} a"
            f" ON a.kind = {user} AND a.user_id = w.user_id AND a.currency_id = w.currency_id"
            f" UNION ALL SELECT id FROM {table} WHERE kind = {fee} AND currency_id = ANY(%s::bigint[]))"
        )
        return _accounts_statement(wanted, [users, currencies, list(fee_currency_ids)], lock=True)
    wanted = f"(kind = {user} AND (user_id, currency_id) IN ({', '.join(['(%s, %s)'] * len(pairs))}))"
    params = [value for pair in pairs for value in pair]
    if fee_currency_ids:
        fees = ", ".join(["%s"] * len(fee_currency_ids))
        wanted += f" OR (kind = {fee} AND currency_id IN ({fees}))"
        params += list(fee_currency_ids)
    return _accounts_statement(wanted, params, lock=True)


def _accounts_statement(wanted: str, params: list, *, lock: bool) -> Statement:
    """The accounts matching `wanted` (an SQL condition), in key order, locked unless `lock` is false."""
    lock_clause = " FOR UPDATE" if lock and connection.features.has_select_for_update else ""
    sql = f"SELECT {', '.join(ACCOUNT_FIELDS)} FROM {Account._meta.db_table} WHERE {wanted} ORDER BY id{lock_clause}"
    return sql, params


def accounts_from_rows(rows: list[tuple]) -> list[Account]:
    """The accounts an accounts_lock_statement returned."""
    return from_rows(Account, ACCOUNT_FIELDS, rows)
