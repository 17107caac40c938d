"""Signed keys, scopes, IP allow-lists, sessions with CSRF, rate limits: every refusal changes nothing."""

import json

import pytest
from django.test import Client

from api import keys
from markets.models import Order
from tests.api.conftest import error_code
from tests.helpers import ledger_state

pytestmark = pytest.mark.django_db

ORDER = {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "25.00"}


def test_a_signed_request_authenticates_and_records_last_use(carol, make_bot, funded):
    bot = make_bot(carol)
    response = bot.get("/api/v1/balances")
    assert response.status_code == 200
    assert response["X-RateLimit-Limit"] == "1200"
    bot.key.refresh_from_db()
    assert bot.key.last_used_at is not None


def test_the_secret_is_never_stored(carol, make_bot):
    bot = make_bot(carol)
    bot.key.refresh_from_db()
    stored = " ".join(str(value) for value in bot.key.__dict__.values())
    assert bot.secret not in stored


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda h: h | {"X-API-Signature": "0" * 64}, "invalid_signature"),
        (lambda h: h | {"X-API-Key": "ak_nonexistent"}, "invalid_api_key"),
        (lambda h: h | {"X-API-Timestamp": "soon"}, "invalid_timestamp"),
        (lambda h: {k: v for k, v in h.items() if k != "X-API-Signature"}, "invalid_signature"),
    ],
)
def test_bad_credentials_answer_401_and_change_nothing(carol, make_bot, funded, tamper, code):
    bot = make_bot(carol)
    body = json.dumps(ORDER).encode()
    before = ledger_state()
    headers = tamper(bot.headers("POST", "/api/v1/orders", body))
    response = bot.client.post("/api/v1/orders", body, content_type="application/json", headers=headers)
    assert (response.status_code, error_code(response)) == (401, code)
    assert ledger_state() == before and not Order.objects.exists()


@pytest.mark.parametrize("skew_ms", [-31_000, 31_000])
def test_a_stale_or_future_timestamp_fails(carol, make_bot, skew_ms):
    import time

    bot = make_bot(carol)
    response = bot.get("/api/v1/balances", timestamp=int(time.time() * 1000) + skew_ms)
    assert (response.status_code, error_code(response)) == (401, "timestamp_out_of_window")


def test_a_tampered_body_fails(carol, make_bot, funded):
    bot = make_bot(carol)
    signed = json.dumps(ORDER).encode()
    tampered = json.dumps(ORDER | {"quantity": "90.000"}).encode()
    headers = bot.headers("POST", "/api/v1/orders", signed)
    response = bot.client.post("/api/v1/orders", tampered, content_type="application/json", headers=headers)
    assert (response.status_code, error_code(response)) == (401, "invalid_signature")
    assert not Order.objects.exists()


def test_the_query_string_is_signed(carol, make_bot, funded):
    bot = make_bot(carol)
    headers = bot.headers("GET", "/api/v1/orders?status=open", b"")
    response = bot.client.get("/api/v1/orders?status=closed", headers=headers)
    assert (response.status_code, error_code(response)) == (401, "invalid_signature")


def test_a_captured_request_cannot_be_replayed(carol, make_bot, funded):
    bot = make_bot(carol)
    body = json.dumps(ORDER).encode()
    headers = bot.headers("POST", "/api/v1/orders", body)
    first = bot.client.post("/api/v1/orders", body, content_type="application/json", headers=headers)
    again = bot.client.post("/api/v1/orders", body, content_type="application/json", headers=headers)
    assert first.status_code == 201
    assert (again.status_code, error_code(again)) == (401, "signature_reused")
    assert Order.objects.count() == 1


def test_a_revoked_key_fails_at_once(carol, make_bot):
    bot = make_bot(carol)
    assert bot.get("/api/v1/balances").status_code == 200
    assert bot.delete(f"/api/v1/keys/{bot.key.key_id}").status_code == 200
    response = bot.get("/api/v1/balances")
    assert (response.status_code, error_code(response)) == (401, "key_revoked")


def test_a_read_only_key_cannot_trade_or_transfer(carol, alice, make_bot, funded):
    bot = make_bot(carol, scopes=["read"])
    before = ledger_state()
    placed = bot.post("/api/v1/orders", ORDER)
    sent = bot.post("/api/v1/transfers", {"recipient": "alice", "currency": "BUCK", "amount": "1.00"})
    minted = bot.post("/api/v1/currencies/BUCK/mint", {"amount": "1.00"})
    assert [(r.status_code, error_code(r)) for r in (placed, sent, minted)] == [(403, "insufficient_scope")] * 3
    assert ledger_state() == before and not Order.objects.exists()
    assert bot.get("/api/v1/orders").status_code == 200


def test_a_key_cannot_mint_a_key_with_more_scopes(carol, make_bot):
    bot = make_bot(carol, scopes=["read"])
    response = bot.post("/api/v1/keys", {"name": "escalate", "scopes": ["read", "trade"]})
    assert (response.status_code, error_code(response)) == (403, "insufficient_scope")
    assert carol.api_keys.count() == 1


def test_the_ip_allow_list_is_enforced(carol, make_bot):
    allowed = make_bot(carol, allowed_ips=["127.0.0.1"])
    elsewhere = make_bot(carol, allowed_ips=["203.0.113.7"])
    assert allowed.get("/api/v1/balances").status_code == 200
    response = elsewhere.get("/api/v1/balances")
    assert (response.status_code, error_code(response)) == (403, "ip_not_allowed")


def test_no_credentials_answer_401(client):
    response = client.get("/api/v1/balances")
    assert (response.status_code, error_code(response)) == (401, "not_authenticated")


def test_the_browser_session_works_and_needs_csrf_to_write(carol, funded):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(carol)
    assert browser.get("/api/v1/balances").status_code == 200
    refused = browser.post("/api/v1/orders", ORDER, content_type="application/json")
    assert (refused.status_code, error_code(refused)) == (403, "permission_denied")
    browser.get("/account/api-keys/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    placed = browser.post("/api/v1/orders", ORDER, content_type="application/json", headers={"X-CSRFToken": token})
    assert placed.status_code == 201


def test_key_pages_create_show_the_secret_once_and_revoke(carol):
    browser = Client()
    browser.force_login(carol)
    page = browser.post("/account/api-keys/", {"name": "my bot", "scopes": ["read", "trade"]})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    key = carol.api_keys.get()
    secret = page.context["secret"]
    assert keys.secret_matches(key, secret) and secret.encode() in page.content
    assert secret.encode() not in browser.get("/account/api-keys/").content
    browser.post(f"/account/api-keys/{key.key_id}/revoke/")
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_key_page_refuses_bad_input(carol):
    browser = Client()
    browser.force_login(carol)
    page = browser.post("/account/api-keys/", {"name": "", "scopes": ["root"], "allowed_ips": "nope"})
    assert page.status_code == 400
    assert set(page.context["errors"]) == {"name", "scopes", "allowed_ips"}
    assert not carol.api_keys.exists()


@pytest.mark.django_db
def test_key_creation_and_revocation_are_in_the_staff_activity_log():
    from django.contrib.auth.models import User

    from api.keys import key_create, key_revoke
    from ledger.models import ActivityLog

    owner = User.objects.create_user("keyowner")
    key, _ = key_create(user=owner, name="bot", scopes=["read"])
    key_revoke(user=owner, key_id=key.key_id)
    key_revoke(user=owner, key_id=key.key_id)  # twice is harmless and logged once
    actions = list(ActivityLog.objects.order_by("id").values_list("actor__username", "action", "subject"))
    assert actions == [("keyowner", "key_create", f"key:{key.key_id}"), ("keyowner", "key_revoke", f"key:{key.key_id}")]
