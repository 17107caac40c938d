import pytest

from ledger.models import Account
from markets import services as markets
from markets.services import OrderRequest
from tests.conftest import fund, make_currency, make_user


@pytest.fixture
def gold_buck(alice, bob):
    """GOLD (3 decimals, bob's) against BUCK (2 decimals, alice's): lot 0.100 GOLD, tick 0.10 BUCK."""
    gold = make_currency(bob, "GOLD", decimals=3)
    buck = make_currency(alice, "BUCK", decimals=2)
    return markets.market_create(user=alice, base=gold, quote=buck)


@pytest.fixture
def traders(gold_buck):
    """Two traders, each with 100 GOLD and 10,000 BUCK."""
    people = [make_user("trader1"), make_user("trader2")]
    for person in people:
        fund(person, gold_buck.base, 100_000)
        fund(person, gold_buck.quote, 1_000_000)
    return people


def place(user, market, side, quantity=None, price=None, type="limit", **options):
    """Place an order with amounts in minor units."""
    request = OrderRequest(side=side, type=type, quantity=quantity, price=price, **options)
    return markets.order_place(user=user, market_id=market.pk, request=request)


def account(user, currency) -> Account:
    return Account.objects.get(user=user, currency=currency, kind="user")
