"""24-hour tickers read from one-minute candles: the window's first open, its range and volume, nothing older."""

from datetime import timedelta

import pytest
from django.utils import timezone

from markets import selectors
from markets.models import Candle

pytestmark = pytest.mark.django_db


def candle(market, start, open, high, low, close, volume):
    return Candle.objects.create(
        market=market, start=start, open=open, high=high, low=low, close=close, volume=volume,
        quote_volume=volume * close // 1_000, trades=1,
    )


def test_a_ticker_opens_at_the_first_candle_of_the_last_24_hours(gold_buck):
    now = timezone.now().replace(second=0, microsecond=0)
    candle(gold_buck, now - timedelta(hours=25), 1_000, 9_000, 500, 1_000, 700)  # older than the window
    candle(gold_buck, now - timedelta(hours=23), 2_000, 2_100, 1_900, 2_050, 100)
    candle(gold_buck, now - timedelta(hours=1), 2_050, 2_600, 2_000, 2_500, 300)
    other = candle(gold_buck, now - timedelta(hours=2), 2_040, 2_060, 2_030, 2_050, 200)

    ticker = selectors.ticker(market=gold_buck, now=now)

    assert (ticker.open, ticker.high, ticker.low, ticker.volume) == (2_000, 2_600, 1_900, 600)
    other.delete()
    Candle.objects.filter(start=now - timedelta(hours=23)).delete()
    assert selectors.ticker(market=gold_buck, now=now).open == 2_050  # now the 1-hour-old candle opens the day


def test_a_market_without_trades_in_the_last_day_has_no_opening_price(gold_buck):
    now = timezone.now()
    candle(gold_buck, now - timedelta(days=3), 1_000, 1_000, 1_000, 1_000, 100)
    ticker = selectors.ticker(market=gold_buck, now=now)
    assert (ticker.open, ticker.high, ticker.volume, ticker.change_bps) == (None, None, 0, None)
