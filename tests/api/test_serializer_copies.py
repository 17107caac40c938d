"""api/cached.py: each serializer instance gets fields of its own, and what it reads and writes is what DRF's own
deep copies give."""

import copy

import pytest
from rest_framework import serializers

from api import cached
from api.strict import RequestSerializer
from markets import services
from markets.serializers import OrderRequestSerializer, OrderSerializer

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(funded, carol):
    request = services.OrderRequest(side="buy", type="limit", quantity=1_000, price=2_000, client_order_id="c-1")
    placed = services.order_place(user=carol, market_id=funded.pk, request=request)
    placed.market = funded
    return placed


def as_drf_copies_them(monkeypatch):
    monkeypatch.setattr(cached, "_copy", copy.deepcopy)


def test_each_instance_has_its_own_bound_fields(order):
    for make in (lambda: OrderSerializer(order), lambda: OrderRequestSerializer(data={})):
        first, second = make(), make()
        assert first.fields.keys() == second.fields.keys()
        for name in first.fields:
            assert first.fields[name] is not second.fields[name]
            assert first.fields[name].parent is first and second.fields[name].parent is second


def test_an_order_reads_as_with_drfs_copies(order, monkeypatch):
    cheap = OrderSerializer(order).data
    as_drf_copies_them(monkeypatch)
    assert OrderSerializer(order).data == cheap
    assert cheap["side"] == "buy" and cheap["client_order_id"] == "c-1"


@pytest.mark.parametrize(
    "body",
    [
        {"market": "GOLD-BUCK", "side": "buy", "type": "limit", "quantity": "1.000", "price": "20.00"},
        {"market": "GOLD-BUCK", "side": "sideways", "type": "limit", "quantity": "1.000", "time_in_force": "never"},
        {"market": "GOLD-BUCK", "side": "buy", "type": "market", "quantity": 1},
        {"market": "GOLD-BUCK", "status": "filled"},
    ],
)
def test_a_request_validates_as_with_drfs_copies(body, monkeypatch):
    def outcome():
        form = OrderRequestSerializer(data=body)
        try:
            valid = form.is_valid()
        except Exception as error:  # a domain error (an amount given as a number) the API answers with a 400
            return type(error), str(error)
        return valid, dict(form.validated_data) if valid else form.errors

    cheap = outcome()
    as_drf_copies_them(monkeypatch)
    assert outcome() == cheap


class Tagged(RequestSerializer):
    tags = serializers.ListField(child=serializers.CharField(max_length=3))
    extra = serializers.JSONField(default={})
    side = serializers.ChoiceField(choices=[("buy", "Buy"), ("sell", "Sell")])


def test_a_field_holding_a_field_or_a_mutable_value_is_deep_copied():
    first, second = Tagged(data={}), Tagged(data={})
    assert first.fields["tags"].child is not second.fields["tags"].child
    assert first.fields["tags"].child.parent is first.fields["tags"]
    assert first.fields["extra"].default is not second.fields["extra"].default
    invalid = Tagged(data={"tags": ["long one"], "side": "up"})
    assert not invalid.is_valid()
    assert set(invalid.errors) == {"tags", "side"}
    assert Tagged(data={"tags": ["ok"], "side": "buy"}).is_valid()


def test_an_order_written_out_reads_as_its_fields_give_it(funded, carol, alice):
    """OrderSerializer writes its representation out by hand; it must be what DRF makes of the declared fields
    (which the OpenAPI schema describes), key for key and in the same order, for orders of every shape."""
    from tests.markets.conftest import place

    resting = place(alice, funded, "sell", quantity=2_000, price=2_500, client_order_id="ask-1")
    orders = [
        resting,
        place(carol, funded, "buy", quantity=500, price=2_600),  # filled at the maker's price: an average, a fee
        place(carol, funded, "buy", type="market", quote_budget=100_000),  # a budget, no price or quantity
        place(carol, funded, "sell", quantity=100, price=2_400, time_in_force="ioc"),  # nothing to meet: cancelled
        place(alice, funded, "buy", quantity=100, price=2_500, self_trade="cancel_incoming"),
        place(carol, funded, "sell", quantity=300, price=2_000, post_only=True),
    ]
    resting.refresh_from_db()
    orders.append(resting)  # emptied by the market buy
    for order in orders:
        order.market = funded
        written = OrderSerializer(order).data
        generic = serializers.ModelSerializer.to_representation(OrderSerializer(order), order)
        assert list(written.items()) == list(generic.items())
    assert {order.status for order in orders} >= {"open", "filled", "cancelled"}
