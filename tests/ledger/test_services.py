"""Ledger services: given a state, when a service runs, then balances, journal and record are as expected."""

import pytest

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
from ledger import selectors
from ledger import services as ledger
from ledger.models import Account, JournalEntry, SupplyChange
from tests.conftest import fund, make_currency
from tests.helpers import assert_audit_passes, balance_of, ledger_state

pytestmark = pytest.mark.django_db


def test_create_currency_makes_an_issuance_account(alice):
    gold = ledger.currency_create(issuer=alice, code="GOLD", name="Gold", decimals=3)
    assert (gold.code, gold.decimals, gold.issuer, gold.can_mint) == ("GOLD", 3, alice, True)
    assert Account.objects.get(currency=gold, kind=Account.Kind.ISSUANCE).balance == 0


def test_decimals_default_to_two(alice):
    assert ledger.currency_create(issuer=alice, code="TWO", name="Two").decimals == 2


@pytest.mark.parametrize(
    ("fields", "bad_field"),
    [
        ({"code": "g"}, "code"),
        ({"code": "gold"}, "code"),
        ({"code": "TOOLONGCODE123"}, "code"),
        ({"code": "GO-LD"}, "code"),
        ({"name": ""}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"decimals": 9}, "decimals"),
        ({"decimals": -1}, "decimals"),
        ({"decimals": 2.5}, "decimals"),
        ({"max_supply": 0}, "max_supply"),
        ({"max_supply": -5}, "max_supply"),
    ],
)
def test_create_currency_rejects_bad_input(alice, fields, bad_field):
    before = ledger_state()
    arguments = {"issuer": alice, "code": "GOLD", "name": "Gold", "decimals": 2} | fields
    with pytest.raises(ValidationFailed) as raised:
        ledger.currency_create(**arguments)
    assert bad_field in raised.value.fields
    assert ledger_state() == before


def test_currency_codes_are_unique(alice, bob, buck):
    with pytest.raises(Conflict) as raised:
        ledger.currency_create(issuer=bob, code="BUCK", name="Another buck")
    assert "code" in raised.value.fields


def test_mint_moves_supply_from_issuance_to_issuer_and_is_public(alice, buck):
    ledger.currency_mint(issuer=alice, currency=buck, amount=10_000, memo="first batch")
    assert balance_of(alice, buck) == 10_000
    assert Account.objects.get(currency=buck, kind=Account.Kind.ISSUANCE).balance == -10_000
    record = list(selectors.supply_record(currency=buck).values_list("kind", "amount", "memo"))
    assert record == [("mint", 10_000, "first batch")]
    assert_audit_passes()


def test_supply_figures(alice, bob, carol, buck):
    ledger.currency_mint(issuer=alice, currency=buck, amount=10_000)
    ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=3_000)
    ledger.transfer_create(sender=alice, recipient=carol, currency=buck, amount=1_000)
    ledger.currency_burn(issuer=alice, currency=buck, amount=500)
    supply = selectors.currency_supply(currency=buck)
    assert (supply.total, supply.circulating, supply.holders) == (9_500, 4_000, 3)
    assert (supply.minted, supply.burned) == (10_000, 500)


def test_only_the_issuer_mints(bob, buck):
    before = ledger_state()
    with pytest.raises(PermissionDenied):
        ledger.currency_mint(issuer=bob, currency=buck, amount=100)
    assert ledger_state() == before


@pytest.mark.parametrize("amount", [0, -1, 2**63, 2.5, True, "100"])
def test_mint_rejects_bad_amounts(alice, buck, amount):
    before = ledger_state()
    with pytest.raises(InvalidAmount):
        ledger.currency_mint(issuer=alice, currency=buck, amount=amount)
    assert ledger_state() == before


def test_max_supply_cannot_be_passed(alice):
    capped = make_currency(alice, "CAP", max_supply=1_000)
    ledger.currency_mint(issuer=alice, currency=capped, amount=600)
    before = ledger_state()
    with pytest.raises(MaxSupplyExceeded) as raised:
        ledger.currency_mint(issuer=alice, currency=capped, amount=401)
    assert "4.00" in raised.value.message  # what can still be minted
    assert ledger_state() == before
    ledger.currency_mint(issuer=alice, currency=capped, amount=400)
    assert selectors.currency_supply(currency=capped).total == 1_000


def test_supply_cannot_overflow_64_bits(alice, buck):
    ledger.currency_mint(issuer=alice, currency=buck, amount=2**63 - 1)
    with pytest.raises(MaxSupplyExceeded):
        ledger.currency_mint(issuer=alice, currency=buck, amount=1)


def test_renouncing_minting_is_final(alice, buck):
    ledger.currency_mint(issuer=alice, currency=buck, amount=100)
    ledger.currency_renounce_minting(issuer=alice, currency=buck)
    before = ledger_state()
    with pytest.raises(MintingRenounced):
        ledger.currency_mint(issuer=alice, currency=buck, amount=1)
    assert ledger_state() == before
    buck.refresh_from_db()
    assert not buck.can_mint


def test_only_the_issuer_renounces(bob, buck):
    with pytest.raises(PermissionDenied):
        ledger.currency_renounce_minting(issuer=bob, currency=buck)
    buck.refresh_from_db()
    assert buck.can_mint


def test_burn_retires_the_issuers_own_coins(alice, buck):
    ledger.currency_mint(issuer=alice, currency=buck, amount=1_000)
    ledger.currency_burn(issuer=alice, currency=buck, amount=400)
    assert balance_of(alice, buck) == 600
    assert selectors.currency_supply(currency=buck).total == 600
    assert SupplyChange.objects.filter(kind="burn", amount=400).exists()
    assert_audit_passes()


def test_burn_more_than_held_fails(alice, bob, buck):
    fund(bob, buck, 1_000)  # alice minted 1000 and sent it all to bob
    before = ledger_state()
    with pytest.raises(InsufficientFunds):
        ledger.currency_burn(issuer=alice, currency=buck, amount=1)
    with pytest.raises(PermissionDenied):
        ledger.currency_burn(issuer=bob, currency=buck, amount=1)
    assert ledger_state() == before


def test_transfer_moves_money_in_one_balanced_entry(alice, bob, buck):
    fund(alice, buck, 3_000)
    transfer = ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=1_250, memo="lunch")
    assert (balance_of(alice, buck), balance_of(bob, buck)) == (1_750, 1_250)
    postings = sorted(transfer.entry.postings.values_list("amount", flat=True))
    assert postings == [-1_250, 1_250]
    assert transfer.memo == "lunch"
    assert_audit_passes()


def test_transfer_needs_available_funds_not_just_balance(alice, bob, buck):
    fund(alice, buck, 3_000)
    Account.objects.filter(user=alice, currency=buck).update(held=2_500)  # as if open orders held it
    before = ledger_state()
    with pytest.raises(InsufficientFunds):
        ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=501)
    assert ledger_state() == before
    ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=500)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"amount": 0}, InvalidAmount),
        ({"amount": -5}, InvalidAmount),
        ({"amount": 2**63}, InvalidAmount),
        ({"amount": 1.5}, InvalidAmount),
        ({"amount": 3_001}, InsufficientFunds),
        ({"memo": "x" * 201}, ValidationFailed),
        ({"idempotency_key": "k" * 65}, ValidationFailed),
        ({"idempotency_key": ""}, ValidationFailed),
    ],
    ids=lambda value: repr(value)[:30],
)
def test_transfer_rejects_bad_input_and_changes_nothing(alice, bob, buck, change, error):
    fund(alice, buck, 3_000)
    before = ledger_state()
    with pytest.raises(error):
        ledger.transfer_create(**({"sender": alice, "recipient": bob, "currency": buck, "amount": 100} | change))
    assert ledger_state() == before


def test_transfer_to_oneself_is_refused(alice, buck):
    fund(alice, buck, 100)
    before = ledger_state()
    with pytest.raises(ValidationFailed) as raised:
        ledger.transfer_create(sender=alice, recipient=alice, currency=buck, amount=10)
    assert "recipient" in raised.value.fields
    assert ledger_state() == before


def test_transfer_of_a_currency_never_held_is_insufficient(alice, bob, buck):
    before = ledger_state()
    with pytest.raises(InsufficientFunds):
        ledger.transfer_create(sender=bob, recipient=alice, currency=buck, amount=1)
    assert ledger_state() == before


def test_unknown_user_and_currency_are_not_found():
    from exchange.errors import NotFound

    with pytest.raises(NotFound):
        selectors.user_get(username="nobody")
    with pytest.raises(NotFound):
        selectors.currency_get(code="NOPE")


def test_idempotency_key_makes_a_retry_pay_once(alice, bob, buck):
    fund(alice, buck, 1_000)
    first = ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=300, idempotency_key="pay-1")
    again = ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=300, idempotency_key="pay-1")
    assert again.pk == first.pk
    assert balance_of(bob, buck) == 300
    assert JournalEntry.objects.filter(kind="transfer").count() == 1  # alice is the issuer: funding was a mint


def test_idempotency_key_reused_for_another_transfer_is_refused(alice, bob, carol, buck):
    fund(alice, buck, 1_000)
    ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=300, idempotency_key="pay-1")
    before = ledger_state()
    with pytest.raises(IdempotencyConflict):
        ledger.transfer_create(sender=alice, recipient=carol, currency=buck, amount=300, idempotency_key="pay-1")
    with pytest.raises(IdempotencyConflict):
        ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=301, idempotency_key="pay-1")
    assert ledger_state() == before


def test_idempotency_keys_are_scoped_per_sender(alice, bob, carol, buck):
    fund(alice, buck, 1_000)
    fund(bob, buck, 1_000)
    ledger.transfer_create(sender=alice, recipient=carol, currency=buck, amount=1, idempotency_key="same")
    ledger.transfer_create(sender=bob, recipient=carol, currency=buck, amount=1, idempotency_key="same")
    assert balance_of(carol, buck) == 2


def test_database_refuses_a_negative_balance_even_from_buggy_code(alice, buck):
    from django.db import IntegrityError, transaction

    fund(alice, buck, 100)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(user=alice, currency=buck).update(balance=-1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(user=alice, currency=buck).update(held=101)


def test_audit_catches_a_corrupted_balance(alice, bob, buck):
    from django.core.management import CommandError, call_command

    fund(bob, buck, 500)
    Account.objects.filter(user=bob, currency=buck).update(balance=600)
    with pytest.raises(CommandError):
        call_command("audit", stdout=open("/dev/null", "w"))


def test_audit_catches_supply_that_disagrees_with_the_public_record(alice, buck):
    from django.core.management import CommandError, call_command

    ledger.currency_mint(issuer=alice, currency=buck, amount=1_000)
    SupplyChange.objects.filter(currency=buck).update(amount=999)  # the record no longer tells the truth
    with pytest.raises(CommandError):
        call_command("audit", stdout=open("/dev/null", "w"))


@pytest.mark.parametrize("action", ["mint", "burn"])
def test_an_idempotency_key_makes_a_retried_mint_or_burn_count_once(alice, buck, action):
    service = ledger.currency_mint if action == "mint" else ledger.currency_burn
    ledger.currency_mint(issuer=alice, currency=buck, amount=10_000)
    first = service(issuer=alice, currency=buck, amount=700, memo="batch 7", idempotency_key="supply-7")
    after_first = ledger_state()
    again = service(issuer=alice, currency=buck, amount=700, memo="batch 7", idempotency_key="supply-7")
    assert again.pk == first.pk
    assert ledger_state() == after_first
    with pytest.raises(IdempotencyConflict):
        service(issuer=alice, currency=buck, amount=701, memo="batch 7", idempotency_key="supply-7")
    assert ledger_state() == after_first
    assert_audit_passes()


def test_a_retried_mint_is_replayed_even_after_renouncing(alice, buck):
    first = ledger.currency_mint(issuer=alice, currency=buck, amount=500, idempotency_key="last-mint")
    ledger.currency_renounce_minting(issuer=alice, currency=buck)
    assert ledger.currency_mint(issuer=alice, currency=buck, amount=500, idempotency_key="last-mint").pk == first.pk
    with pytest.raises(MintingRenounced):
        ledger.currency_mint(issuer=alice, currency=buck, amount=500, idempotency_key="another")
