from django.contrib import admin

from audit.services import audit_actor
from ratelimits import services
from ratelimits.models import PartnerRateLimit, RateBucket


@admin.register(PartnerRateLimit)
class PartnerRateLimitAdmin(admin.ModelAdmin):
    """A partner's own API limit; partners without a row get PARTNER_API_RATE / PARTNER_API_BURST."""

    list_display = ("partner", "rate_per_second", "burst", "updated_at")
    list_select_related = ("partner",)
    search_fields = ("partner__name",)
    fields = ("partner", "rate_per_second", "burst", "updated_at")
    readonly_fields = ("updated_at",)

    # Through the services, so each change writes its audit row (rate_limit.changed).
    def save_model(self, request, obj, form, change) -> None:
        saved = services.partner_rate_limit_set(
            partner_id=obj.partner_id,
            rate_per_second=obj.rate_per_second,
            burst=obj.burst,
            actor=audit_actor(request),
        )
        obj.pk, obj.updated_at = saved.pk, saved.updated_at

    def delete_model(self, request, obj) -> None:
        services.partner_rate_limit_remove(limit=obj, actor=audit_actor(request))

    def delete_queryset(self, request, queryset) -> None:
        actor = audit_actor(request)
        for limit in queryset:
            services.partner_rate_limit_remove(limit=limit, actor=actor)


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
