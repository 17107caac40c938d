"""Idempotency-Key: a replay answers the first response with one effect; concurrent duplicates too."""

import pytest
from django.db import connections

from api.models import IdempotencyRecord
from ledger.models import SupplyChange, Transfer
from markets.models import Order
from tests.api.conftest import Bot, error_code, fund, make_currency
from tests.concurrency import run_together
from tests.helpers import assert_audit_passes, ledger_state

SEND = {"recipient": "bob", "currency": "BUCK", "amount": "5.00"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/api/v1/transfers", SEND),
        ("/api/v1/currencies/BUCK/mint", {"amount": "5.00"}),
        ("/api/v1/currencies/BUCK/burn", {"amount": "5.00"}),
        ("/api/v1/orders", {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "25.00"}),
    ],
)
def test_a_replay_returns_the_same_response_with_one_effect(alice, make_bot, funded, path, payload):
    bot = make_bot(alice)
    first = bot.post(path, payload, headers={"Idempotency-Key": "k-1"})
    after_first = (ledger_state(), Order.objects.count())
    again = bot.post(path, payload, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert (ledger_state(), Order.objects.count()) == after_first
    other = bot.post(path, payload | {"memo": "changed"}, headers={"Idempotency-Key": "k-1"})
    assert (other.status_code, error_code(other)) == (409, "idempotency_key_reused")
    assert (ledger_state(), Order.objects.count()) == after_first


@pytest.mark.django_db
def test_keys_are_scoped_per_user(alice, carol, make_bot, funded):
    first = make_bot(alice).post("/api/v1/transfers", SEND, headers={"Idempotency-Key": "same"})
    second = make_bot(carol).post("/api/v1/transfers", SEND, headers={"Idempotency-Key": "same"})
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


@pytest.mark.django_db
def test_a_failed_request_keeps_no_record_and_may_be_retried(carol, make_bot, funded):
    bot = make_bot(carol)
    too_much = SEND | {"amount": "20000.00"}
    refused = bot.post("/api/v1/transfers", too_much, headers={"Idempotency-Key": "retry"})
    assert (refused.status_code, error_code(refused)) == (409, "insufficient_funds")
    assert not IdempotencyRecord.objects.exists()
    retried = bot.post("/api/v1/transfers", SEND, headers={"Idempotency-Key": "retry"})
    assert retried.status_code == 201


@pytest.mark.django_db
def test_a_bad_idempotency_key_is_refused(carol, make_bot, funded):
    response = make_bot(carol).post("/api/v1/transfers", SEND, headers={"Idempotency-Key": "x" * 65})
    assert (response.status_code, error_code(response)) == (400, "validation_error")
    assert not Transfer.objects.exists() or Transfer.objects.filter(sender__username="carol").count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/v1/transfers", "/api/v1/currencies/BUCK/mint"])
def test_ten_concurrent_duplicates_have_one_effect(alice, bob, path):
    """Repeated: ten copies of one request at the same moment, then the same key with another body."""
    buck = make_currency(alice, "BUCK")
    fund(alice, buck, 100_000)
    bots = [Bot(alice) for _ in range(10)]  # one client (and connection) per thread
    payload = SEND if "transfers" in path else {"amount": "5.00"}
    rounds = 20
    for round_number in range(rounds):
        key = {"Idempotency-Key": f"once-{round_number}"}
        responses = run_together([lambda bot=bot: bot.post(path, payload, headers=key) for bot in bots])
        connections.close_all()
        assert all(not isinstance(r, Exception) for r in responses), responses
        assert {r.status_code for r in responses} == {201}
        assert len({r.content for r in responses}) == 1  # the same answer each time
        other = bots[0].post(path, payload | {"amount": "6.00"}, headers=key)
        assert (other.status_code, error_code(other)) == (409, "idempotency_key_reused")
    assert Transfer.objects.count() == (rounds if "transfers" in path else 0)  # alice issues BUCK: funding sent nothing
    assert SupplyChange.objects.count() == (1 if "transfers" in path else 1 + rounds)
    assert_audit_passes()
