"""Amounts: integers of minor units inside, decimal strings outside.

A currency with `decimals` = 2 counts in hundredths: "12.50" is 1250 minor units. Parsing is strict: only plain
digits with an optional fraction are accepted, so floats, exponents, signs, NaN and Infinity never get in.
"""

import re

from exchange.errors import InvalidAmount

MAX_MINOR_UNITS = 2**63 - 1  # what a 64-bit signed column holds
MAX_DECIMALS = 8
_PLAIN_DECIMAL = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")


def parse_amount(value: object, decimals: int, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Turn a decimal string into minor units, or raise InvalidAmount naming the field."""

    def reject(message: str) -> InvalidAmount:
        return InvalidAmount(message, fields={field: [message]})

    if not isinstance(value, str):
        raise reject("Send amounts as decimal strings, such as \"12.50\".")
    match = _PLAIN_DECIMAL.fullmatch(value.strip())
    if match is None:
        raise reject(f"\"{value[:40]}\" is not a plain positive decimal number.")
    whole, fraction = match["whole"], match["fraction"] or ""
    if len(fraction) > decimals:
        raise reject(f"At most {decimals} decimal places are allowed here.")
    if len(whole) > 20:
        raise reject("The amount is too large.")
    minor = int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or "0")
    if minor > MAX_MINOR_UNITS:
        raise reject("The amount is too large.")
    if minor == 0 and not allow_zero:
        raise reject("The amount must be greater than zero.")
    return minor


def format_amount(minor_units: int, decimals: int) -> str:
    """Minor units as a decimal string with exactly `decimals` places."""
    sign = "-" if minor_units < 0 else ""
    whole, fraction = divmod(abs(minor_units), 10**decimals)
    if decimals == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{decimals}d}"
