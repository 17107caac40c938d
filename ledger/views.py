"""The banking pages: thin views that validate a form, call one service and redirect."""

import uuid

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from exchange.errors import DomainError
from ledger import selectors, services
from ledger.forms import AmountForm, CurrencyCreateForm, SignUpForm, TransferForm, add_domain_error
from ledger.models import Currency


def home(request):
    if request.user.is_authenticated:
        return redirect("dashboard")
    currencies = list(Currency.objects.select_related("issuer")[:12])
    supply = selectors.currencies_supply(currencies=currencies)
    rows = [(currency, supply[currency.pk]) for currency in currencies]
    return render(request, "ledger/home.html", {"rows": rows})


def signup(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome, {user.username}. Your account is open.")
        return redirect("dashboard")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def dashboard(request):
    balances = selectors.balances_for(user=request.user)
    movements = selectors.movements_for(user=request.user, limit=15)
    issued = Currency.objects.filter(issuer=request.user)
    return render(
        request, "ledger/dashboard.html", {"balances": balances, "movements": movements, "issued": issued}
    )


def currency_list(request):
    currencies = list(Currency.objects.select_related("issuer"))
    supply = selectors.currencies_supply(currencies=currencies)
    rows = [(currency, supply[currency.pk]) for currency in currencies]
    return render(request, "ledger/currency_list.html", {"rows": rows})


def currency_detail(request, code: str):
    currency = selectors.currency_get(code=code)
    page = Paginator(selectors.supply_record(currency=currency), 25).get_page(request.GET.get("page"))
    is_issuer = request.user.is_authenticated and request.user.pk == currency.issuer_id
    context = {
        "currency": currency,
        "supply": selectors.currency_supply(currency=currency),
        "record": page,
        "is_issuer": is_issuer,
        "mint_form": AmountForm(currency=currency, prefix="mint"),
        "burn_form": AmountForm(currency=currency, prefix="burn"),
        "markets": _markets_of(currency),
    }
    return render(request, "ledger/currency_detail.html", context)


@login_required
def currency_create(request):
    form = CurrencyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            currency = services.currency_create(issuer=request.user, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            messages.success(request, f"{currency.code} exists. Mint some to put it into the world.")
            return redirect("currency_detail", code=currency.code)
    return render(request, "ledger/currency_create.html", {"form": form})


@login_required
@require_POST
def currency_supply_change(request, code: str, action: str):
    """Mint or burn, from the forms on the currency page."""
    currency = selectors.currency_get(code=code)
    form = AmountForm(request.POST, currency=currency, prefix=action)
    service = services.currency_mint if action == "mint" else services.currency_burn
    if form.is_valid():
        try:
            service(issuer=request.user, currency=currency, **form.cleaned_data)
        except DomainError as error:
            add_domain_error(form, error)
        else:
            verb = "Minted" if action == "mint" else "Burned"
            messages.success(request, f"{verb} {currency.format(form.cleaned_data['amount'])} {currency.code}.")
            return redirect("currency_detail", code=currency.code)
    for error in form.errors.get("amount", []) + form.non_field_errors():
        messages.error(request, f"Could not {action}: {error}")
    return redirect("currency_detail", code=currency.code)


@login_required
@require_POST
def currency_renounce(request, code: str):
    currency = selectors.currency_get(code=code)
    try:
        services.currency_renounce_minting(issuer=request.user, currency=currency)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Minting of {currency.code} is renounced for good: its supply is fixed.")
    return redirect("currency_detail", code=currency.code)


@login_required
def transfer_create(request):
    currencies = Currency.objects.filter(accounts__user=request.user, accounts__balance__gt=0).distinct()
    initial = {"recipient": request.GET.get("to", ""), "currency": request.GET.get("currency")}
    form = TransferForm(request.POST or None, currencies=currencies, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            recipient = selectors.user_get(username=data["recipient"])
            services.transfer_create(
                sender=request.user,
                recipient=recipient,
                currency=data["currency"],
                amount=data["amount"],
                memo=data["memo"],
                idempotency_key=request.POST.get("idempotency_key") or None,
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            currency = data["currency"]
            messages.success(request, f"Sent {currency.format(data['amount'])} {currency.code} to {recipient.username}.")
            return redirect("dashboard")
    transfers = selectors.transfers_for(user=request.user)[:20]
    # A fresh key per rendered form: a double-submitted form pays once.
    idempotency_key = request.POST.get("idempotency_key") or uuid.uuid4().hex
    context = {"form": form, "transfers": transfers, "idempotency_key": idempotency_key}
    return render(request, "ledger/transfer.html", context)


def _markets_of(currency: Currency):
    from markets.selectors import markets_with_currency

    return markets_with_currency(currency=currency)
