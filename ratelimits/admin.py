from django.contrib import admin

from ratelimits.models import PartnerRateLimit, RateBucket


@admin.register(PartnerRateLimit)
class PartnerRateLimitAdmin(admin.ModelAdmin):
    """A partner's own API limit; partners without a row get PARTNER_API_RATE / PARTNER_API_BURST."""

    list_display = ("partner", "rate_per_second", "burst", "updated_at")
    list_select_related = ("partner",)
    search_fields = ("partner__name",)
    fields = ("partner", "rate_per_second", "burst", "updated_at")
    readonly_fields = ("updated_at",)


@admin.register(RateBucket)
class RateBucketAdmin(admin.ModelAdmin):
    """The database's buckets (only without a shared Redis); deleting one refills it."""

    list_display = ("key", "tokens", "refilled_at")
    search_fields = ("key",)
    readonly_fields = ("key", "tokens", "refilled_at")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
