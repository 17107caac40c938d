"""The banking pages through the real HTTP stack: each renders for a visitor and a member; the forms work end to end."""

import pytest
from django.urls import reverse

from ledger.models import Currency, Transfer
from tests.conftest import fund, make_currency
from tests.helpers import balance_of, ledger_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(client, bob):
    client.force_login(bob)
    return client


@pytest.mark.parametrize("name", ["home", "currency_list", "login", "signup"])
def test_public_pages_render_for_a_visitor(client, buck, name):
    response = client.get(reverse(name))
    assert response.status_code == 200
    assert b"Exchange" in response.content


def test_currency_page_shows_supply_and_the_public_mint_record(client, alice, buck):
    fund(alice, buck, 123_456_789)
    response = client.get(reverse("currency_detail", args=["BUCK"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "1,234,567.89" in body and "Mint and burn record" in body
    assert "Renounce minting" not in body  # visitors get no issuer controls


def test_unknown_currency_is_a_404_page(client):
    response = client.get(reverse("currency_detail", args=["NOPE"]))
    assert response.status_code == 404
    assert b"NOPE" in response.content


@pytest.mark.parametrize("name", ["dashboard", "transfer_create", "currency_create"])
def test_member_pages_redirect_a_visitor_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("name", ["dashboard", "transfer_create", "currency_create", "home", "currency_list"])
def test_member_pages_render_for_a_member(member, buck, bob, name):
    fund(bob, buck, 500)
    response = member.get(reverse(name), follow=True)
    assert response.status_code == 200


def test_signup_then_land_on_the_dashboard(client):
    response = client.post(
        reverse("signup"),
        {"username": "newbie", "password1": "a-long-enough-pass-99", "password2": "a-long-enough-pass-99"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert b"newbie" in response.content


def test_login_and_logout(client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"}, follow=True)
    assert response.context["user"].is_authenticated
    response = client.post(reverse("logout"), follow=True)
    assert not response.context["user"].is_authenticated


def test_create_mint_and_burn_a_currency_through_the_forms(member, bob):
    response = member.post(
        reverse("currency_create"), {"code": "rock", "name": "Rock", "decimals": "1", "max_supply": "1000"}, follow=True
    )
    assert response.status_code == 200
    rock = Currency.objects.get(code="ROCK")
    assert (rock.decimals, rock.max_supply, rock.issuer) == (1, 10_000, bob)
    member.post(reverse("currency_mint", args=["ROCK"]), {"mint-amount": "250.5", "mint-memo": "batch"})
    member.post(reverse("currency_burn", args=["ROCK"]), {"burn-amount": "0.5"})
    assert balance_of(bob, rock) == 2_500
    page = member.get(reverse("currency_detail", args=["ROCK"])).content.decode()
    assert "250.0" in page and "batch" in page


def test_currency_form_shows_errors_inline(member):
    response = member.post(reverse("currency_create"), {"code": "x", "name": "", "decimals": "12"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) >= {"code", "name", "decimals"}
    assert Currency.objects.count() == 0


@pytest.mark.parametrize("amount", ["0", "-5", "1.001", "1e3", "NaN", "abc", "99999999999999999999999"])
def test_bad_mint_amounts_show_an_error_and_change_nothing(member, bob, amount):
    make_currency(bob, "ROCK")
    before = ledger_state()
    response = member.post(reverse("currency_mint", args=["ROCK"]), {"mint-amount": amount}, follow=True)
    assert response.status_code == 200
    assert "Could not mint" in response.content.decode()
    assert ledger_state() == before


def test_minting_someone_elses_currency_is_refused(member, buck):
    before = ledger_state()
    response = member.post(reverse("currency_mint", args=["BUCK"]), {"mint-amount": "10"}, follow=True)
    assert "Only the issuer" in response.content.decode()
    assert ledger_state() == before


def test_renounce_minting_through_the_page(client, alice, buck):
    client.force_login(alice)
    client.post(reverse("currency_renounce", args=["BUCK"]))
    buck.refresh_from_db()
    assert not buck.can_mint
    assert "Fixed supply" in client.get(reverse("currency_detail", args=["BUCK"])).content.decode()


def test_send_money_by_username(member, bob, carol, buck):
    fund(bob, buck, 1_000)
    response = member.post(
        reverse("transfer_create"),
        {"recipient": "carol", "currency": "BUCK", "amount": "2.50", "memo": "coffee", "idempotency_key": "form-1"},
        follow=True,
    )
    assert "Sent 2.50 BUCK to carol" in response.content.decode()
    assert (balance_of(bob, buck), balance_of(carol, buck)) == (750, 250)
    # The same rendered form submitted twice pays once.
    member.post(
        reverse("transfer_create"),
        {"recipient": "carol", "currency": "BUCK", "amount": "2.50", "memo": "coffee", "idempotency_key": "form-1"},
    )
    assert Transfer.objects.filter(sender=bob).count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"recipient": "nobody", "amount": "1"}, "There is no user called nobody"),
        ({"recipient": "bob", "amount": "1"}, "You cannot send to yourself"),
        ({"recipient": "carol", "amount": "0"}, "greater than zero"),
        ({"recipient": "carol", "amount": "-1"}, "not a plain positive decimal"),
        ({"recipient": "carol", "amount": "1.234"}, "At most 2 decimal places"),
        ({"recipient": "carol", "amount": "10.01"}, "More than you have available"),
        ({"recipient": "carol", "amount": "1e2"}, "not a plain positive decimal"),
        ({"recipient": "carol", "amount": "99999999999999999999"}, "too large"),
    ],
)
def test_bad_transfers_show_an_error_and_change_nothing(member, bob, carol, buck, data, message):
    fund(bob, buck, 1_000)
    before = ledger_state()
    response = member.post(reverse("transfer_create"), {"currency": "BUCK", "memo": ""} | data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert ledger_state() == before


def test_a_browser_post_without_csrf_is_refused(bob, buck):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    fund(bob, buck, 100)
    before = ledger_state()
    response = strict.post(reverse("transfer_create"), {"recipient": "alice", "currency": "BUCK", "amount": "1"})
    assert response.status_code == 403
    assert ledger_state() == before
