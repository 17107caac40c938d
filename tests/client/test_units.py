"""The client's parts that need no server: error mapping, amounts, signing, rounding, the local book's rule."""

from decimal import Decimal

import pytest

from api.keys import signature_for
from exchange_client import LocalBook, Market, errors, signature
from exchange_client.rest import decimal_string


def test_a_known_code_maps_to_its_class_and_an_unknown_one_to_its_status_family():
    known = errors.error_from_response(409, {"error": {"code": "order_not_open", "message": "closed"}})
    assert type(known) is errors.OrderNotOpen and isinstance(known, errors.Conflict)
    assert (known.code, known.status, known.message) == ("order_not_open", 409, "closed")
    unknown = errors.error_from_response(409, {"error": {"code": "brand_new_code", "message": "?"}})
    assert type(unknown) is errors.Conflict and unknown.code == "brand_new_code"
    proxy = errors.error_from_response(502, "<html>Bad Gateway</html>")
    assert isinstance(proxy, errors.ServerError) and proxy.status == 502
    fields = errors.error_from_response(400, {"error": {"code": "validation_error", "fields": {"side": ["Bad."]}}})
    assert type(fields) is errors.ValidationError and fields.fields == {"side": ["Bad."]}
    assert all(cls.code == code for code, cls in errors.BY_CODE.items())


def test_amounts_go_out_as_decimal_strings_and_floats_are_refused():
    assert decimal_string(Decimal("1.50")) == "1.50"
    assert decimal_string(Decimal("1E+2")) == "100"
    assert decimal_string(3) == "3" and decimal_string("0.100") == "0.100"
    with pytest.raises(TypeError):
        decimal_string(0.1)


def test_the_signature_is_the_one_the_server_checks():
    body = b'{"market":"GOLD-BUCK"}'
    ours = signature("s3cret", "1764072000000", "post", "/api/v1/orders?x=1", body)
    assert ours == signature_for(secret="s3cret", timestamp="1764072000000", method="POST",
                                 path="/api/v1/orders?x=1", body=body)


def test_prices_and_quantities_round_onto_the_market_grid():
    market = Market("GOLD-BUCK", "GOLD", "BUCK", Decimal("0.10"), Decimal("0.100"), Decimal("0.200"), 0, 10, "open",
                    2, 3)
    assert market.round_price(Decimal("25.1789")) == Decimal("25.10")
    assert market.round_price(Decimal("25.1011"), up=True) == Decimal("25.20")
    assert market.round_price(Decimal("0.01")) == Decimal("0.10")  # never below one tick
    assert market.round_quantity(Decimal("1.2345")) == Decimal("1.200")
    assert market.round_quantity(Decimal("0.1")) == Decimal("0.200")  # at least the minimum


def test_a_delta_applies_only_if_it_follows_on_and_a_gap_marks_the_book_stale():
    book = LocalBook("GOLD-BUCK")
    book.reset({"sequence": 5, "bids": [["25.00", "1.000"]], "asks": [["25.50", "2.000"]]})
    assert book.apply({"sequence": 5, "changes": [{"side": "buy", "price": "25.00", "quantity": "9.000"}]})
    assert book.bids == {Decimal("25.00"): Decimal("1.000")}  # an old delta changes nothing
    assert book.apply({"sequence": 6, "changes": [{"side": "buy", "price": "25.00", "quantity": "0.000"},
                                                  {"side": "sell", "price": "25.40", "quantity": "0.500"}]})
    assert (book.bids, book.best_ask, book.sequence) == ({}, Decimal("25.40"), 6)
    before = book.snapshot()
    assert not book.apply({"sequence": 8, "changes": [{"side": "buy", "price": "24.00", "quantity": "1.000"}]})
    assert not book.synced and book.snapshot() == before
    assert not book.apply({"sequence": 7, "changes": []})  # stale until the next snapshot
    book.reset({"sequence": 8, "bids": [], "asks": []})
    assert book.synced and book.mid is None
