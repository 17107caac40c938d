"""Load demo users, currencies and markets (idempotent: a second run changes nothing)."""

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from ledger import services as ledger
from ledger.models import Currency

DEMO_PASSWORD = "demo-pass-2026"
USERS = ["alice", "bob", "carol", "dave"]
# code, name, decimals, issuer, amount minted (whole units), max supply (whole units) or None
CURRENCIES = [
    ("BUCK", "Community Buck", 2, "alice", 1_000_000, None),
    ("GOLD", "Gold Grams", 3, "bob", 10_000, 50_000),
    ("HOUR", "Time Bank Hour", 1, "carol", 5_000, None),
]


class Command(BaseCommand):
    help = "Create demo users (printing their passwords), currencies, balances and markets."

    def handle(self, *args, **options):
        if User.objects.filter(username="alice").exists():
            self.stdout.write("Demo data is already loaded.")
            self._print_logins()
            return
        users = {name: User.objects.create_user(username=name, password=DEMO_PASSWORD) for name in USERS}
        for code, name, decimals, issuer, minted, cap in CURRENCIES:
            scale = 10**decimals
            currency = ledger.currency_create(
                issuer=users[issuer],
                code=code,
                name=name,
                decimals=decimals,
                max_supply=cap * scale if cap else None,
            )
            ledger.currency_mint(issuer=users[issuer], currency=currency, amount=minted * scale, memo="Initial supply")
            for name_ in USERS:
                if name_ != issuer:
                    ledger.transfer_create(
                        sender=users[issuer],
                        recipient=users[name_],
                        currency=currency,
                        amount=minted * scale // 8,
                        memo="Welcome gift",
                    )
        self._create_markets(users)
        self.stdout.write(self.style.SUCCESS("Demo data loaded."))
        self._print_logins()

    def _create_markets(self, users):
        from markets.demo import create_demo_markets

        create_demo_markets(users=users, currencies={c.code: c for c in Currency.objects.all()})

    def _print_logins(self):
        self.stdout.write(f"Demo logins (password for each: {DEMO_PASSWORD}): {', '.join(USERS)}")
