from django import template

from ledger.money import format_amount

register = template.Library()


@register.simple_tag
def amount(minor_units, currency) -> str:
    """Minor units shown in the currency's precision, with thousands separators for reading."""
    if minor_units is None:
        return ""
    text = format_amount(minor_units, currency.decimals)
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}.{fraction}" if fraction else f"{sign}{grouped}"
