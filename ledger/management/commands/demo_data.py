"""Load demo users, currencies and markets, and get the demo's trading bots ready (idempotent: a second run
changes nothing)."""

import json
import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from ledger import services as ledger
from ledger.models import Currency

DEMO_PASSWORD = "demo-pass-2026"
USERS = ["alice", "bob", "carol", "dave"]
# The bots of `make run` (bots/demo.py) trade as these users; dave keeps resting orders in every demo market.
BOT_USERS = {"maker": "maker_bot", "taker": "taker_bot"}
BOT_KEY_NAME = "demo bot"
SEED_USER = "dave"
# code, name, decimals, issuer, amount minted (whole units), max supply (whole units) or None
CURRENCIES = [
    ("BUCK", "Community Buck", 2, "alice", 1_000_000, None),
    ("GOLD", "Gold Grams", 3, "bob", 10_000, 50_000),
    ("HOUR", "Time Bank Hour", 1, "carol", 5_000, None),
]


class Command(BaseCommand):
    help = "Create demo users (printing their passwords), currencies, balances and markets."

    def add_arguments(self, parser):
        default = Path(settings.BASE_DIR) / "var" / "demo_bots.json"
        parser.add_argument(
            "--bot-keys", default=str(default), help=f"Where to write the bots' API keys (default {default})."
        )

    def handle(self, *args, bot_keys, **options):
        if User.objects.filter(username="alice").exists():
            self.stdout.write("Demo data is already loaded.")
        else:
            self._load()
        self._prepare_bots(Path(bot_keys))
        self._print_logins()

    def _load(self):
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

    def _create_markets(self, users):
        from markets.demo import create_demo_markets

        create_demo_markets(users=users, currencies={c.code: c for c in Currency.objects.all()})

    def _print_logins(self):
        self.stdout.write(f"Demo logins (password for each: {DEMO_PASSWORD}): {', '.join(USERS)}")
        self.stdout.write(f"The demo's bots trade as {' and '.join(BOT_USERS.values())} (same password); see docs/bots.md")

    def _prepare_bots(self, keys_path: Path):
        """Bot users with a welcome gift of every demo currency, an API key each (written to `keys_path` for
        bots/demo.py), and dave's resting orders in every demo market."""
        from markets.demo import seed_resting_orders

        credentials = {}
        for role, username in BOT_USERS.items():
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(username=username, password=DEMO_PASSWORD)
                for code, _name, decimals, issuer, minted, _cap in CURRENCIES:
                    ledger.transfer_create(
                        sender=User.objects.get(username=issuer),
                        recipient=user,
                        currency=Currency.objects.get(code=code),
                        amount=minted * 10**decimals // 8,
                        memo="Welcome gift",
                    )
            credentials[role] = {"username": username, **_bot_key(user)}
        keys_path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only: the file holds signing secrets (of demo users, on a demo machine, but still).
        descriptor = os.open(keys_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(credentials, file, indent=2)
        placed = seed_resting_orders(user=User.objects.get(username=SEED_USER))
        if placed:
            self.stdout.write(f"{SEED_USER} placed {placed} resting orders in the demo markets.")


def _bot_key(user: User) -> dict:
    """The user's demo-bot key and its secret (re-derived: it is never stored); created when missing or stale."""
    from api.keys import key_create, key_secret, secret_matches
    from api.models import ApiKey

    key = ApiKey.objects.filter(user=user, name=BOT_KEY_NAME, revoked_at__isnull=True).first()
    if key is not None and secret_matches(key, key_secret(key)):
        return {"key": key.key_id, "secret": key_secret(key)}
    key, secret = key_create(user=user, name=BOT_KEY_NAME, scopes=["read", "trade"])
    return {"key": key.key_id, "secret": secret}
