"""Fixtures shared by the whole suite: named users, currencies and funding helpers."""

import pytest
from django.contrib.auth.models import User
from django.db import connection

from ledger import services as ledger
from ledger.models import Currency


@pytest.fixture(autouse=True)
def _postgres_marker_needs_postgres(request):
    """A test marked `postgres` proves something about row locks: on SQLite it would prove nothing, so it fails."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.fail("this test needs PostgreSQL: set DATABASE_URL (make test does)")


@pytest.fixture(autouse=True)
def _realtime_updates_sent_before_the_next_test():
    """Updates leave through a background sender; one test's must not reach the next test's subscribers."""
    yield
    from realtime.publish import sender

    assert sender.flush(), "realtime updates were still queued 5 s after the test"


def make_user(username: str) -> User:
    return User.objects.create_user(username=username, password=f"{username}-password-1")


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def carol(db):
    return make_user("carol")


def make_currency(issuer: User, code: str, decimals: int = 2, **kwargs) -> Currency:
    return ledger.currency_create(issuer=issuer, code=code, name=f"{code.title()} coin", decimals=decimals, **kwargs)


def fund(user: User, currency: Currency, amount: int) -> None:
    """Give `user` `amount` minor units: minted by the issuer, then sent over unless the user is the issuer."""
    ledger.currency_mint(issuer=currency.issuer, currency=currency, amount=amount)
    if user.pk != currency.issuer_id:
        ledger.transfer_create(sender=currency.issuer, recipient=user, currency=currency, amount=amount)


@pytest.fixture
def buck(alice):
    """BUCK, issued by alice, 2 decimals."""
    return make_currency(alice, "BUCK")
