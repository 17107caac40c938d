"""Staff can look at the ledger in the admin; nobody edits money there (every change goes through a service)."""

from django.contrib import admin

from ledger.models import Account, ActivityLog, Currency, JournalEntry, SupplyChange, Transfer


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Currency)
class CurrencyAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "decimals", "issuer", "max_supply", "minting_renounced_at", "created_at")
    search_fields = ("code", "name")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "currency", "kind", "balance", "held")
    list_filter = ("kind", "currency")
    search_fields = ("user__username",)


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "created_at")
    list_filter = ("kind",)


@admin.register(SupplyChange)
class SupplyChangeAdmin(ReadOnlyAdmin):
    list_display = ("id", "currency", "kind", "amount", "memo", "created_at")
    list_filter = ("kind", "currency")


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ("id", "sender", "recipient", "currency", "amount", "memo", "created_at")
    search_fields = ("sender__username", "recipient__username")


@admin.register(ActivityLog)
class ActivityLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "subject", "details")
    list_filter = ("action",)
    search_fields = ("actor__username", "subject")
