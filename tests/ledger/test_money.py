import pytest

from exchange.errors import InvalidAmount
from ledger.money import MAX_MINOR_UNITS, format_amount, parse_amount


@pytest.mark.parametrize(
    ("text", "decimals", "minor"),
    [
        ("12.50", 2, 1250),
        ("12.5", 2, 1250),
        ("12", 2, 1200),
        ("0.01", 2, 1),
        ("7", 0, 7),
        ("0.00000001", 8, 1),
        (" 3.10 ", 2, 310),
        ("92233720368547758.07", 2, MAX_MINOR_UNITS),
    ],
)
def test_parse_accepts_plain_decimals(text, decimals, minor):
    assert parse_amount(text, decimals) == minor


@pytest.mark.parametrize(
    ("value", "decimals"),
    [
        ("0", 2),
        ("0.00", 2),
        ("-1", 2),
        ("+1", 2),
        ("1.001", 2),
        ("1.5", 0),
        ("1e3", 2),
        ("1E3", 2),
        ("NaN", 2),
        ("Infinity", 2),
        ("-Infinity", 2),
        ("", 2),
        (".5", 2),
        ("5.", 2),
        ("1,5", 2),
        ("0x10", 2),
        ("92233720368547758.08", 2),
        ("99999999999999999999999999", 0),
        ("１２", 2),  # full-width digits are not plain ASCII digits
        (12.5, 2),
        (12, 2),
        (None, 2),
        (True, 2),
        (["1"], 2),
    ],
    ids=repr,
)
def test_parse_rejects_everything_else(value, decimals):
    with pytest.raises(InvalidAmount) as raised:
        parse_amount(value, decimals)
    assert raised.value.code == "invalid_amount"
    assert "amount" in raised.value.fields


@pytest.mark.parametrize(
    ("minor", "decimals", "text"),
    [(1250, 2, "12.50"), (1, 2, "0.01"), (-1, 2, "-0.01"), (7, 0, "7"), (0, 3, "0.000"), (123456789, 8, "1.23456789")],
)
def test_format_round_trips(minor, decimals, text):
    assert format_amount(minor, decimals) == text
    if minor > 0:
        assert parse_amount(text, decimals) == minor
