"""Currencies, accounts and the double-entry journal.

Balances are integers of minor units. Every movement is one JournalEntry whose postings sum to zero per
currency; an account's balance is the sum of its postings, kept alongside for locking and fast reads.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from ledger.money import format_amount

CURRENCY_CODE_PATTERN = r"^[A-Z0-9]{2,12}$"


class Currency(models.Model):
    code = models.CharField(
        max_length=12,
        unique=True,
        validators=[RegexValidator(CURRENCY_CODE_PATTERN, "2 to 12 upper-case letters or digits.")],
    )
    name = models.CharField(max_length=64)
    decimals = models.PositiveSmallIntegerField(default=2)
    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="issued_currencies")
    max_supply = models.BigIntegerField(null=True, blank=True, help_text="In minor units; null = no cap.")
    minting_renounced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"
        constraints = [
            models.CheckConstraint(condition=Q(decimals__gte=0, decimals__lte=8), name="currency_decimals_0_8"),
            models.CheckConstraint(
                condition=Q(max_supply__isnull=True) | Q(max_supply__gt=0), name="currency_max_supply_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def can_mint(self) -> bool:
        return self.minting_renounced_at is None

    def format(self, minor_units: int) -> str:
        return format_amount(minor_units, self.decimals)


class Account(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "User"
        ISSUANCE = "issuance", "Issuance"  # its balance is minus the total supply
        FEE = "fee", "Fee"  # collects trading fees

    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="accounts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.USER)
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "currency"], condition=Q(kind="user"), name="account_one_per_user_currency"
            ),
            models.UniqueConstraint(
                fields=["currency", "kind"], condition=~Q(kind="user"), name="account_one_system_per_currency"
            ),
            models.CheckConstraint(
                condition=Q(kind="user", user__isnull=False) | (~Q(kind="user") & Q(user__isnull=True)),
                name="account_user_iff_user_kind",
            ),
            # Defence in depth: no code path can write a negative balance or an impossible hold.
            models.CheckConstraint(
                condition=Q(kind="issuance") | Q(balance__gte=0), name="account_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(held__gte=0, held__lte=F("balance")) | (Q(kind="issuance") & Q(held=0)),
                name="account_held_within_balance",
            ),
            models.CheckConstraint(
                condition=~Q(kind="issuance") | Q(balance__lte=0), name="account_issuance_not_positive"
            ),
        ]

    def __str__(self) -> str:
        owner = self.user.username if self.user_id else self.kind
        return f"{owner}:{self.currency_id}"

    @property
    def available(self) -> int:
        return self.balance - self.held


class JournalEntry(models.Model):
    class Kind(models.TextChoices):
        MINT = "mint", "Mint"
        BURN = "burn", "Burn"
        TRANSFER = "transfer", "Transfer"
        TRADE = "trade", "Trade"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class Posting(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_not_zero")]


class SupplyChange(models.Model):
    """The public record of every mint and burn."""

    class Kind(models.TextChoices):
        MINT = "mint", "Mint"
        BURN = "burn", "Burn"

    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="supply_changes")
    kind = models.CharField(max_length=4, choices=Kind.choices)
    amount = models.BigIntegerField()
    memo = models.CharField(max_length=200, blank=True)
    # Only the issuer mints and burns a currency, so a key unique per currency is unique per user.
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="supply_change")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="supply_change_amount_positive"),
            models.UniqueConstraint(
                fields=["currency", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="supply_change_idempotency_key_per_currency",
            ),
        ]


class Transfer(models.Model):
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_sent")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="transfers_received"
    )
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="transfers")
    amount = models.BigIntegerField()
    memo = models.CharField(max_length=200, blank=True)
    idempotency_key = models.CharField(max_length=64, null=True, blank=True)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="transfer")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(condition=~Q(sender=F("recipient")), name="transfer_not_to_self"),
            models.UniqueConstraint(
                fields=["sender", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="transfer_idempotency_key_per_sender",
            ),
        ]


class ActivityLog(models.Model):
    """Who did what, for staff: mints, burns, renouncing, market halts, API keys created and revoked."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=32, db_index=True)
    subject = models.CharField(max_length=64)  # e.g. "currency:GOLD", "market:GOLD-BUCK", "key:3"
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.subject}"
