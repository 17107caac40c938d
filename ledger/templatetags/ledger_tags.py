from django import template

from ledger.money import format_amount

register = template.Library()


@register.simple_tag
def amount(minor_units, currency) -> str:
    """Minor units shown as a decimal string in the currency's precision."""
    if minor_units is None:
        return ""
    return format_amount(minor_units, currency.decimals)
