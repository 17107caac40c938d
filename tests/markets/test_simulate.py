import pytest
from django.core.management import CommandError, call_command
from django.db.models import Sum

from markets import selectors
from markets.models import Candle, Trade
from tests.helpers import assert_audit_passes

pytestmark = pytest.mark.django_db


def test_simulated_history_is_real_to_the_ledger_and_feeds_candles(gold_buck, traders):
    call_command("simulate", "GOLD-BUCK", "--between", "trader1", "trader2", "--price", "25.00",
                 "--trades", "1000", "--days", "2", stdout=open("/dev/null", "w"))
    assert Trade.objects.filter(market=gold_buck).count() == 1000
    assert_audit_passes()
    hours = selectors.candles(market=gold_buck, interval="1h", limit=100)
    assert 40 <= len(hours) <= 49
    assert sum(bar.trades for bar in hours) == Candle.objects.aggregate(n=Sum("trades"))["n"]
    ticker = selectors.ticker(market=gold_buck)
    assert ticker.last is not None and ticker.volume > 0


def test_simulate_refuses_a_market_with_trades(gold_buck, traders):
    call_command("simulate", "GOLD-BUCK", "--between", "trader1", "trader2", "--price", "25.00", "--trades", "10",
                 stdout=open("/dev/null", "w"))
    with pytest.raises(CommandError, match="has trades already"):
        call_command("simulate", "GOLD-BUCK", "--between", "trader1", "trader2", "--price", "25.00")
