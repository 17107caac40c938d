import pytest
from django.contrib.auth.models import User

from markets.models import Market

pytestmark = pytest.mark.django_db


def test_staff_halt_and_resume_a_market_from_the_admin(client, gold_buck):
    staff = User.objects.create_superuser("root", password="x")
    client.force_login(staff)
    url = "/admin/markets/market/"
    assert client.get(url).status_code == 200
    client.post(url, {"action": "halt", "_selected_action": [gold_buck.pk]})
    assert Market.objects.get(pk=gold_buck.pk).status == "halted"
    client.post(url, {"action": "resume", "_selected_action": [gold_buck.pk]})
    assert Market.objects.get(pk=gold_buck.pk).status == "open"


def test_money_cannot_be_edited_in_the_admin(client, gold_buck):
    client.force_login(User.objects.create_superuser("root", password="x"))
    assert client.get("/admin/ledger/account/add/").status_code == 403
    assert client.get("/admin/ledger/account/").status_code == 200


def test_an_audit_violation_halts_trading_until_staff_resume(gold_buck, traders):
    from django.core.management import CommandError, call_command

    from exchange.errors import MarketHalted
    from ledger.models import Account
    from tests.markets.conftest import place

    Account.objects.filter(user=traders[0], currency=gold_buck.quote).update(balance=5)  # corruption
    with pytest.raises(CommandError):
        call_command("audit", "--halt-markets", stdout=open("/dev/null", "w"))
    market = Market.objects.get(pk=gold_buck.pk)
    assert market.status == "halted" and "Audit found" in market.halt_reason
    with pytest.raises(MarketHalted):
        place(traders[1], gold_buck, "sell", quantity=100, price=2_500)


def test_staff_see_who_minted_and_who_halted(client, alice, gold_buck):
    from ledger import services as ledger
    from ledger.models import ActivityLog
    from markets import services as markets

    staff = User.objects.create_superuser("root", password="x")
    ledger.currency_mint(issuer=alice, currency=gold_buck.quote, amount=500)
    markets.market_set_status(user=staff, market=gold_buck, halted=True, reason="checking")
    log = list(ActivityLog.objects.order_by("id").values_list("actor__username", "action", "subject"))
    assert log == [("alice", "mint", "currency:BUCK"), ("root", "market_halt", "market:GOLD-BUCK")]
    client.force_login(staff)
    assert b"market_halt" in client.get("/admin/ledger/activitylog/").content
