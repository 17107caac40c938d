"""Forms of the banking pages. Amounts are typed as decimal text and parsed with the currency's decimals."""

import re

from django import forms
from django.contrib.auth.forms import UserCreationForm

from exchange.errors import DomainError
from ledger.models import CURRENCY_CODE_PATTERN, Currency
from ledger.money import MAX_DECIMALS, parse_amount


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class CurrencyCreateForm(forms.Form):
    code = forms.CharField(max_length=12, help_text="2 to 12 upper-case letters or digits, such as GOLD.")
    name = forms.CharField(max_length=64)
    decimals = forms.IntegerField(
        min_value=0, max_value=MAX_DECIMALS, initial=2, help_text="Places after the point: 2 counts in hundredths."
    )
    max_supply = forms.CharField(
        required=False, help_text="Optional cap that minting can never pass. Leave empty for no cap."
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip().upper()
        if not re.fullmatch(CURRENCY_CODE_PATTERN, code):
            raise forms.ValidationError("Use 2 to 12 letters or digits, such as GOLD.")
        return code

    def clean(self):
        cleaned = super().clean()
        text = (cleaned.get("max_supply") or "").strip()
        if text and cleaned.get("decimals") is not None:
            cleaned["max_supply"] = _amount_or_error(self, "max_supply", text, cleaned["decimals"])
        else:
            cleaned["max_supply"] = None
        return cleaned


class AmountForm(forms.Form):
    """Mint or burn an amount of a known currency."""

    amount = forms.CharField(max_length=40, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    memo = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, currency: Currency, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean_amount(self):
        return _amount_or_error(self, None, self.cleaned_data["amount"], self.currency.decimals)


class TransferForm(forms.Form):
    recipient = forms.CharField(max_length=150, label="To (username)")
    currency = forms.ModelChoiceField(queryset=Currency.objects.none(), to_field_name="code", empty_label=None)
    amount = forms.CharField(max_length=40, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    memo = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, currencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].queryset = currencies

    def clean(self):
        cleaned = super().clean()
        currency, text = cleaned.get("currency"), cleaned.get("amount")
        if currency is not None and text is not None:
            cleaned["amount"] = _amount_or_error(self, "amount", text, currency.decimals)
        return cleaned


def _amount_or_error(form: forms.Form, field: str | None, text: str, decimals: int) -> int | None:
    try:
        return parse_amount(text, decimals)
    except DomainError as error:
        if field is None:
            raise forms.ValidationError(error.message) from None
        form.add_error(field, error.message)
        return None


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error on the form: on its fields where it names them, else on the form."""
    placed = False
    for field, messages in error.fields.items():
        if field in form.fields:
            for message in messages:
                form.add_error(field, message)
            placed = True
    if not placed or error.message not in sum(error.fields.values(), []):
        form.add_error(None, error.message)
