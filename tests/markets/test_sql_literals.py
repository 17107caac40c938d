"""The hot path's statements are bound by exchange/literals.py, not psycopg's mogrify (PostgreSQL: SQLite binds
its own parameters)."""

import pytest

from tests.markets.conftest import place

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_the_hot_path_writes_every_parameter_itself(gold_buck, traders, monkeypatch):
    """exchange/literals.py writes the values of every statement an order, a trade, a cancel and an order writer's
    batch send: none is left to psycopg's mogrify, which cost a quarter of an order's client CPU."""
    from exchange import db, literals
    from markets.batch import Placement, orders_place_batches
    from markets.services import OrderRequest, order_cancel, orders_cancel_all

    def left_to_psycopg(sql, params):
        raise AssertionError(f"left to psycopg's mogrify: {params!r} for {sql[:80]!r}")

    monkeypatch.setattr(db, "bind", lambda sql, params, mogrify: literals.bind(sql, params, left_to_psycopg))
    seller, buyer = traders
    resting = place(buyer, gold_buck, "buy", quantity=100, price=2_000, client_order_id="bot-1")
    for _ in range(3):
        place(seller, gold_buck, "sell", quantity=100, price=2_500)
    place(buyer, gold_buck, "buy", quantity=200, price=2_500)  # fills two makers, leaves one for the cancel-all
    order_cancel(user=buyer, order_id=resting.pk)
    orders_cancel_all(user=seller, market_id=gold_buck.pk)
    bid = OrderRequest(side="buy", type="limit", quantity=100, price=2_000, client_order_id="bot-2")
    ask = OrderRequest(side="sell", type="limit", quantity=200, price=2_000)
    [placed] = orders_place_batches({gold_buck.pk: [Placement(buyer.pk, bid), Placement(seller.pk, ask)]}).values()
    assert [order.filled_quantity for order in placed] == [100, 100]  # the ask took the bid in the same batch
