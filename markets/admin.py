"""Staff halt and resume markets from the admin; orders and trades are read-only there."""

from django.contrib import admin, messages

from ledger.admin import ReadOnlyAdmin
from markets import services
from markets.models import Market, Order, Trade


@admin.register(Market)
class MarketAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "status", "halt_reason", "tick", "lot", "min_quantity", "maker_fee_bps", "taker_fee_bps")
    list_filter = ("status",)
    actions = ["halt", "resume"]

    def has_change_permission(self, request, obj=None):
        return request.user.is_staff  # the actions need it; the form itself has no editable field

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Market._meta.fields]

    @admin.action(description="Halt trading on the selected markets")
    def halt(self, request, queryset):
        for market in queryset:
            services.market_set_status(user=request.user, market=market, halted=True, reason="Halted by staff")
        messages.success(request, f"Halted {queryset.count()} market(s).")

    @admin.action(description="Resume trading on the selected markets")
    def resume(self, request, queryset):
        for market in queryset:
            services.market_set_status(user=request.user, market=market, halted=False)
        messages.success(request, f"Resumed {queryset.count()} market(s).")


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "market", "user", "side", "type", "price", "quantity", "filled_quantity", "status")
    list_filter = ("status", "side", "type", "market")


@admin.register(Trade)
class TradeAdmin(ReadOnlyAdmin):
    list_display = ("id", "market", "price", "quantity", "quote_amount", "buyer", "seller", "created_at")
    list_filter = ("market",)
