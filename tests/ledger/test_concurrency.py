"""The ledger under real concurrency on PostgreSQL: threads, separate connections, real row locks."""

import random

import pytest

from exchange.errors import InsufficientFunds
from ledger import services as ledger
from ledger.models import Account, Transfer
from tests.concurrency import run_together
from tests.conftest import fund, make_currency, make_user
from tests.helpers import assert_audit_passes, balance_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_seed_case_two_payments_racing_for_the_same_funds(alice):
    """30 in the account, 20 to B and 20 to C at once: exactly one succeeds, the other is insufficient funds."""
    buck = make_currency(alice, "BUCK")
    rounds = 50
    for round_number in range(rounds):
        sender, b, c = (make_user(f"{name}{round_number}") for name in ("s", "b", "c"))
        fund(sender, buck, 3_000)
        results = run_together(
            [
                lambda: ledger.transfer_create(sender=sender, recipient=b, currency=buck, amount=2_000),
                lambda: ledger.transfer_create(sender=sender, recipient=c, currency=buck, amount=2_000),
            ]
        )
        succeeded = [r for r in results if isinstance(r, Transfer)]
        refused = [r for r in results if isinstance(r, InsufficientFunds)]
        assert (len(succeeded), len(refused)) == (1, 1), results
        assert balance_of(sender, buck) == 1_000
        assert balance_of(b, buck) + balance_of(c, buck) == 2_000
    assert_audit_passes()


def test_same_idempotency_key_sent_at_once_pays_once(alice, bob):
    buck = make_currency(alice, "BUCK")
    ledger.currency_mint(issuer=alice, currency=buck, amount=10_000)

    def pay():
        return ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=700, idempotency_key="k1")

    results = run_together([pay] * 10)
    assert all(isinstance(r, Transfer) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert balance_of(bob, buck) == 700
    assert_audit_passes()


def test_storm_of_random_transfers_conserves_every_currency(alice):
    """8 threads x 250 random transfers among 10 accounts in 3 currencies, A->B and B->A at once included."""
    users = [make_user(f"u{i}") for i in range(10)]
    currencies = [make_currency(alice, code) for code in ("AAA", "BBB", "CCC")]
    for currency in currencies:
        for user in users:
            fund(user, currency, 10_000)
    totals_before = {c.code: sum(balance_of(u, c) for u in users) for c in currencies}

    def worker(seed: int):
        rng = random.Random(seed)
        outcomes = {"ok": 0, "insufficient": 0}
        for _ in range(250):
            sender, recipient = rng.sample(users, 2)
            currency = rng.choice(currencies)
            try:
                ledger.transfer_create(
                    sender=sender, recipient=recipient, currency=currency, amount=rng.randint(1, 4_000)
                )
                outcomes["ok"] += 1
            except InsufficientFunds:
                outcomes["insufficient"] += 1
        return outcomes

    results = run_together([lambda seed=seed: worker(seed) for seed in range(8)], timeout=300)
    errors = [r for r in results if not isinstance(r, dict)]
    assert errors == []  # no deadlock or serialization error reached a caller
    assert sum(r["ok"] + r["insufficient"] for r in results) == 2_000
    assert sum(r["ok"] for r in results) > 1_000
    for currency in currencies:
        assert sum(balance_of(u, currency) for u in users) == totals_before[currency.code]
        assert Account.objects.filter(currency=currency, balance__lt=0).exclude(kind="issuance").count() == 0
    assert_audit_passes()


def test_opposite_transfers_between_two_accounts_never_deadlock(alice, bob):
    buck = make_currency(alice, "BUCK")
    fund(alice, buck, 100_000)
    fund(bob, buck, 100_000)

    def back_and_forth(sender, recipient):
        for _ in range(100):
            ledger.transfer_create(sender=sender, recipient=recipient, currency=buck, amount=7)
        return "done"

    results = run_together([lambda: back_and_forth(alice, bob), lambda: back_and_forth(bob, alice)] * 5)
    assert results == ["done"] * 10  # 1,000 opposite transfers in all
    assert balance_of(alice, buck) == balance_of(bob, buck) == 100_000
    assert_audit_passes()


def test_mints_racing_against_a_cap_never_pass_it(alice):
    capped = make_currency(alice, "CAP", max_supply=1_000)
    results = run_together([lambda: ledger.currency_mint(issuer=alice, currency=capped, amount=300)] * 6)
    assert sum(1 for r in results if not isinstance(r, Exception)) == 3
    assert -Account.objects.get(currency=capped, kind="issuance").balance == 900
    assert_audit_passes()


def test_renounce_racing_mints_leaves_no_mint_after_renouncing(alice):
    buck = make_currency(alice, "BUCK")
    calls = [lambda: ledger.currency_mint(issuer=alice, currency=buck, amount=1)] * 5
    calls.append(lambda: ledger.currency_renounce_minting(issuer=alice, currency=buck))
    run_together(calls)
    buck.refresh_from_db()
    late_mints = buck.supply_changes.filter(created_at__gt=buck.minting_renounced_at).count()
    assert late_mints == 0
    assert_audit_passes()


def test_a_burn_and_a_payment_racing_for_the_same_coins(alice, bob):
    buck = make_currency(alice, "BUCK")
    for _ in range(30):
        ledger.currency_mint(issuer=alice, currency=buck, amount=3_000)
        before = balance_of(alice, buck)
        results = run_together(
            [
                lambda: ledger.currency_burn(issuer=alice, currency=buck, amount=before - 1_000),
                lambda: ledger.transfer_create(sender=alice, recipient=bob, currency=buck, amount=before - 1_000),
            ]
        )
        assert sum(isinstance(r, InsufficientFunds) for r in results) == 1, results
        assert balance_of(alice, buck) == 1_000
    assert_audit_passes()


def test_the_same_mint_key_sent_at_once_mints_once(alice):
    from ledger.models import SupplyChange

    buck = make_currency(alice, "BUCK")
    for round_number in range(20):
        key = f"mint-{round_number}"
        results = run_together(
            [lambda: ledger.currency_mint(issuer=alice, currency=buck, amount=100, idempotency_key=key)] * 10
        )
        assert len({r.pk for r in results}) == 1, results
    assert SupplyChange.objects.filter(currency=buck).count() == 20
    assert balance_of(alice, buck) == 2_000
    assert_audit_passes()
