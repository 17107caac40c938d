"""Ledger use cases: each top-level service owns its transaction and locks as ledger/locks.py says.

Building blocks at the bottom (journal_post, funds_hold, funds_release) expect the caller's transaction and
already-locked accounts; markets use them for orders.
"""

import re
from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone

from exchange.db import update_rows
from exchange.errors import (
    Conflict,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAmount,
    MaxSupplyExceeded,
    MintingRenounced,
    PermissionDenied,
    ValidationFailed,
)
from ledger.locks import lock_accounts
from ledger.models import (
    CURRENCY_CODE_PATTERN,
    Account,
    ActivityLog,
    Currency,
    JournalEntry,
    Posting,
    SupplyChange,
    Transfer,
)
from ledger.money import MAX_DECIMALS, MAX_MINOR_UNITS

MEMO_MAX_LENGTH = 200
IDEMPOTENCY_KEY_MAX_LENGTH = 64


# --- currencies -------------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def currency_create(*, issuer: User, code: str, name: str, decimals: int = 2, max_supply: int | None = None) -> Currency:
    """Create a currency issued by `issuer`, with its issuance account."""
    errors: dict[str, list[str]] = {}
    code = (code or "").strip()
    name = (name or "").strip()
    if not re.fullmatch(CURRENCY_CODE_PATTERN, code):
        errors["code"] = ["Use 2 to 12 upper-case letters or digits, such as GOLD."]
    if not name or len(name) > 64:
        errors["name"] = ["Give a name of 1 to 64 characters."]
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= MAX_DECIMALS:
        errors["decimals"] = [f"Decimals must be a whole number from 0 to {MAX_DECIMALS}."]
    if max_supply is not None and (not isinstance(max_supply, int) or max_supply <= 0):
        errors["max_supply"] = ["The maximum supply must be greater than zero."]
    if errors:
        raise ValidationFailed(fields=errors)
    if Currency.objects.filter(code=code).exists():
        raise Conflict(f"The code {code} is taken.", fields={"code": ["This code is taken."]})
    try:
        with transaction.atomic():
            currency = Currency.objects.create(
                issuer=issuer, code=code, name=name, decimals=decimals, max_supply=max_supply
            )
    except IntegrityError:  # a concurrent creation of the same code won
        raise Conflict(f"The code {code} is taken.", fields={"code": ["This code is taken."]}) from None
    Account.objects.create(currency=currency, kind=Account.Kind.ISSUANCE)
    return currency


@transaction.atomic(durable=True)
def currency_mint(
    *, issuer: User, currency: Currency, amount: int, memo: str = "", idempotency_key: str | None = None
) -> SupplyChange:
    """Create `amount` new coins in the issuer's account. The issuance account lock guards the supply rules.

    With an idempotency key, a retry returns the first mint instead of minting again.
    """
    _check_positive(amount)
    memo = _clean_memo(memo)
    _check_idempotency_key(idempotency_key)
    issuance = _system_account(currency, Account.Kind.ISSUANCE)
    holding = account_for(user=issuer, currency=currency)
    accounts = lock_accounts([issuance.pk, holding.pk])
    issuance, holding = accounts[issuance.pk], accounts[holding.pk]
    currency = Currency.objects.get(pk=currency.pk)  # re-read under the lock: renouncing may just have committed
    if currency.issuer_id != issuer.pk:
        raise PermissionDenied("Only the issuer of a currency can mint it.")
    earlier = _earlier_supply_change(currency, idempotency_key, SupplyChange.Kind.MINT, amount, memo)
    if earlier is not None:
        return earlier
    if not currency.can_mint:
        raise MintingRenounced()
    total_supply = -issuance.balance
    cap = MAX_MINOR_UNITS if currency.max_supply is None else currency.max_supply
    if total_supply + amount > cap:
        room = currency.format(cap - total_supply)
        raise MaxSupplyExceeded(f"Minting this would pass the maximum supply; at most {room} can still be minted.")
    legs = [(issuance, -amount), (holding, amount)]
    return _supply_change(issuer, currency, SupplyChange.Kind.MINT, legs, amount, memo, idempotency_key)


@transaction.atomic(durable=True)
def currency_burn(
    *, issuer: User, currency: Currency, amount: int, memo: str = "", idempotency_key: str | None = None
) -> SupplyChange:
    """Retire `amount` of the issuer's own available coins. With an idempotency key, a retry burns once."""
    _check_positive(amount)
    memo = _clean_memo(memo)
    _check_idempotency_key(idempotency_key)
    if currency.issuer_id != issuer.pk:
        raise PermissionDenied("Only the issuer of a currency can burn it.")
    issuance = _system_account(currency, Account.Kind.ISSUANCE)
    holding = account_for(user=issuer, currency=currency)
    accounts = lock_accounts([issuance.pk, holding.pk])
    issuance, holding = accounts[issuance.pk], accounts[holding.pk]
    earlier = _earlier_supply_change(currency, idempotency_key, SupplyChange.Kind.BURN, amount, memo)
    if earlier is not None:
        return earlier
    if holding.available < amount:
        raise InsufficientFunds(f"You have {currency.format(holding.available)} {currency.code} available to burn.")
    legs = [(holding, -amount), (issuance, amount)]
    return _supply_change(issuer, currency, SupplyChange.Kind.BURN, legs, amount, memo, idempotency_key)


def _supply_change(
    issuer: User, currency: Currency, kind: str, legs: list[tuple[Account, int]], amount: int, memo: str,
    idempotency_key: str | None,
) -> SupplyChange:
    """Post a mint or burn (under its accounts' locks), log it and put it on the public record."""
    entry = journal_post(kind=JournalEntry.Kind(kind), legs=legs)
    activity_record(actor=issuer, action=str(kind), subject=f"currency:{currency.code}", amount=currency.format(amount))
    return SupplyChange.objects.create(
        currency=currency, kind=kind, amount=amount, memo=memo, idempotency_key=idempotency_key, entry=entry
    )


@transaction.atomic(durable=True)
def currency_renounce_minting(*, issuer: User, currency: Currency) -> Currency:
    """Irreversibly fix the supply: no mint will ever succeed again."""
    if currency.issuer_id != issuer.pk:
        raise PermissionDenied("Only the issuer can renounce minting.")
    issuance = _system_account(currency, Account.Kind.ISSUANCE)
    lock_accounts([issuance.pk])
    currency = Currency.objects.get(pk=currency.pk)
    if currency.minting_renounced_at is None:
        currency.minting_renounced_at = timezone.now()
        currency.save(update_fields=["minting_renounced_at"])
        activity_record(actor=issuer, action="renounce_minting", subject=f"currency:{currency.code}")
    return currency


# --- transfers --------------------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def transfer_create(
    *,
    sender: User,
    recipient: User,
    currency: Currency,
    amount: int,
    memo: str = "",
    idempotency_key: str | None = None,
) -> Transfer:
    """Pay `amount` from sender to recipient. With an idempotency key, a retry returns the first transfer."""
    _check_positive(amount)
    memo = _clean_memo(memo)
    _check_idempotency_key(idempotency_key)
    if sender.pk == recipient.pk:
        raise ValidationFailed("You cannot send to yourself.", fields={"recipient": ["You cannot send to yourself."]})
    source = Account.objects.filter(user=sender, currency=currency, kind=Account.Kind.USER).first()
    if source is None:
        raise InsufficientFunds(f"You have no {currency.code}.")
    target = account_for(user=recipient, currency=currency)
    accounts = lock_accounts([source.pk, target.pk])
    source, target = accounts[source.pk], accounts[target.pk]
    # Checked under the sender's lock, so a concurrent retry with the same key waits and then finds the first.
    if idempotency_key is not None:
        earlier = Transfer.objects.filter(sender=sender, idempotency_key=idempotency_key).first()
        if earlier is not None:
            if (earlier.recipient_id, earlier.currency_id, earlier.amount, earlier.memo) != (
                recipient.pk,
                currency.pk,
                amount,
                memo,
            ):
                raise IdempotencyConflict()
            return earlier
    if source.available < amount:
        raise InsufficientFunds(
            f"You have {currency.format(source.available)} {currency.code} available.",
            fields={"amount": ["More than you have available."]},
        )
    entry = journal_post(kind=JournalEntry.Kind.TRANSFER, legs=[(source, -amount), (target, amount)])
    return Transfer.objects.create(
        sender=sender,
        recipient=recipient,
        currency=currency,
        amount=amount,
        memo=memo,
        idempotency_key=idempotency_key,
        entry=entry,
    )


# --- building blocks (caller owns the transaction and the locks) ------------------------------------------------


def activity_record(*, actor: User | None, action: str, subject: str, **details) -> None:
    """Write one line of the staff-visible activity log, in the caller's transaction."""
    ActivityLog.objects.create(actor=actor, action=action, subject=subject, details=details)


def account_for(*, user: User, currency: Currency) -> Account:
    """The user's account in `currency`, created empty on first use."""
    account, _ = Account.objects.get_or_create(user=user, currency=currency, kind=Account.Kind.USER)
    return account


def system_account(*, currency_id: int, kind: str) -> Account:
    """The issuance or fee account of a currency (fee accounts are created on first use)."""
    account, _ = Account.objects.get_or_create(currency_id=currency_id, kind=kind, user=None)
    return account


def journal_post(*, kind: str, legs: list[tuple[Account, int]]) -> JournalEntry:
    """Write one balanced entry and save the moved balances. Call holding the accounts' locks."""
    [entry] = journal_write(kind=kind, entries=[legs])
    accounts_save(account for account, _ in legs)
    return entry


def journal_write(*, kind: str, entries: list[list[tuple[Account, int]]]) -> list[JournalEntry]:
    """Write balanced entries (two bulk inserts) and apply them to the locked accounts in memory.

    The caller saves the accounts once with accounts_save, after any hold changes of its own.
    """
    legs = journal_apply(entries)
    journal = JournalEntry.objects.bulk_create([JournalEntry(kind=kind) for _ in entries])
    Posting.objects.bulk_create(
        Posting(entry=journal[index], account=account, amount=amount) for index, account, amount in legs
    )
    return journal


def journal_apply(entries: list[list[tuple[Account, int]]]) -> list[tuple[int, Account, int]]:
    """Check that each entry balances per currency and apply it to the locked accounts in memory.

    Returns the postings to write as (index of the entry, account, amount); a zero leg writes nothing.
    """
    postings = []
    for index, legs in enumerate(entries):
        totals: dict[int, int] = {}
        for account, amount in legs:
            totals[account.currency_id] = totals.get(account.currency_id, 0) + amount
        if any(totals.values()):
            raise AssertionError(f"unbalanced journal entry: {totals}")
        for account, amount in legs:
            if amount:
                account.balance += amount
                postings.append((index, account, amount))
    return postings


def accounts_save(accounts: Iterable[Account]) -> None:
    """Save the balance and held of locked accounts in one statement."""
    update_rows(Account, ["balance", "held"], {account.pk: account for account in accounts}.values())


def funds_hold(account: Account, amount: int) -> None:
    """Reserve `amount` of a locked account's available funds, or raise InsufficientFunds. Saved by the caller."""
    if amount <= 0:
        return
    if account.available < amount:
        raise InsufficientFunds(
            f"You have {account.currency.format(account.available)} {account.currency.code} available."
        )
    account.held += amount


def funds_release(account: Account, amount: int) -> None:
    """Give back part of a locked account's reservation. Saved by the caller."""
    if amount < 0 or amount > account.held:
        raise AssertionError(f"release of {amount} from an account holding {account.held}")
    account.held -= amount


def _system_account(currency: Currency, kind: str) -> Account:
    return system_account(currency_id=currency.pk, kind=kind)


def _check_positive(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_MINOR_UNITS:
        raise InvalidAmount("The amount must be a positive whole number of minor units.", fields={"amount": ["Not a valid amount."]})


def _check_idempotency_key(key: str | None) -> None:
    if key is not None and not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
        raise ValidationFailed(fields={"idempotency_key": ["Use 1 to 64 characters."]})


def _earlier_supply_change(currency, key, kind, amount, memo) -> SupplyChange | None:
    """The mint or burn a retry with this key already made. Call holding the issuance account's lock."""
    if key is None:
        return None
    earlier = SupplyChange.objects.filter(currency=currency, idempotency_key=key).first()
    if earlier is not None and (earlier.kind, earlier.amount, earlier.memo) != (kind, amount, memo):
        raise IdempotencyConflict()
    return earlier


def _clean_memo(memo: str) -> str:
    memo = (memo or "").strip()
    if len(memo) > MEMO_MAX_LENGTH:
        raise ValidationFailed(fields={"memo": [f"At most {MEMO_MAX_LENGTH} characters."]})
    return memo

