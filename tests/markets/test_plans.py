"""The order path's prepared statements run on generic plans (exchange/settings/env.py PLAN_CACHE_MODE): left to
choose, PostgreSQL planned some of them anew on every run, which cost more than running them."""

import pytest
from django.db import connection

from tests.markets.conftest import place

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_orders_and_trades_reuse_their_plans(gold_buck, traders):
    seller, buyer = traders
    for _ in range(8):  # past the threshold that prepares a statement, and past the five runs PostgreSQL would plan anew
        place(seller, gold_buck, "sell", quantity=100, price=2_500)
        place(buyer, gold_buck, "buy", quantity=100, price=2_500)  # a trade: the makers, the journal, the candles
        place(buyer, gold_buck, "buy", quantity=100, price=2_000)  # rests
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0) "
            "FROM pg_prepared_statements WHERE starts_with(name, 'exchange_')"
        )
        [(statements, generic, custom)] = cursor.fetchall()
    assert statements >= 5  # the lock, the opposite side, the writes: prepared
    assert generic > 0
    assert custom == 0
