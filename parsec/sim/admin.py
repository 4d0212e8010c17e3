"""Read-only admin pages for the simulator's state: inspect, never edit, what the venue holds."""

from decimal import Decimal

from django.contrib import admin

from parsec.sim.accounts import starting_balance_base_units
from parsec.sim.models import SimBuilder, SimBuilderUser, SimFill, SimMarket, SimOrder, SimRateHit


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SimBuilder)
class SimBuilderAdmin(ReadOnlyAdmin):
    list_display = ("name", "key_prefix", "created_at")
    exclude = ("key_hash",)


@admin.register(SimBuilderUser)
class SimBuilderUserAdmin(ReadOnlyAdmin):
    list_display = (
        "external_id",
        "customer_id",
        "builder",
        "status",
        "linked_exchanges",
        "usdc_balance",
        "created_at",
    )
    list_filter = ("status", "builder")
    search_fields = ("external_id", "customer_id", "eoa_address", "safe_address")
    exclude = ("key_hash",)

    @admin.display(description="USDC balance")
    def usdc_balance(self, user: SimBuilderUser) -> str:
        # The starting balance (PARSEC_SIM_STARTING_BALANCE_USDC) plus what fills and fees moved.
        units = starting_balance_base_units() + user.usdc_delta
        return f"{Decimal(units).scaleb(-6):.6f}"


@admin.register(SimMarket)
class SimMarketAdmin(ReadOnlyAdmin):
    list_display = ("exchange", "market_id", "question", "status", "tick_size", "min_order_size")
    list_filter = ("exchange", "status")
    search_fields = ("market_id", "question")


class SimFillInline(admin.TabularInline):
    model = SimFill
    extra = 0
    can_delete = False
    fields = ("fill_id", "price", "size", "is_taker", "fee", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SimOrder)
class SimOrderAdmin(ReadOnlyAdmin):
    list_display = ("id", "customer", "exchange", "side", "price", "size", "filled", "status", "created_at")
    list_filter = ("exchange", "status", "order_type", "side")
    search_fields = ("id", "customer__external_id", "escrow_order_id")
    list_select_related = ("customer",)
    date_hierarchy = "created_at"
    inlines = [SimFillInline]


@admin.register(SimFill)
class SimFillAdmin(ReadOnlyAdmin):
    list_display = ("fill_id", "order", "price", "size", "is_taker", "fee", "created_at")
    list_filter = ("is_taker",)
    search_fields = ("fill_id", "order__id")
    list_select_related = ("order",)


@admin.register(SimRateHit)
class SimRateHitAdmin(ReadOnlyAdmin):
    list_display = ("scope", "at", "accepted")
    list_filter = ("accepted",)
