"""Admin for webhooks: endpoints (enable / disable), deliveries (filters, resend, attempts) and a chart.

Staff actions call the services partners use and are recorded in Django's admin log. Signing
secrets are never shown here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from audit.services import audit_actor
from webhooks import dashboard, services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "url",
        "partner",
        "enabled",
        "last_success_at",
        "failure_streak",
        "failing_since",
        "disabled_reason",
    ]
    list_filter = ["enabled", "partner"]
    search_fields = ["=id", "url"]
    list_select_related = ["partner"]
    fields = [
        "id", "partner", "url", "events", "description", "enabled", "disabled_reason", "disabled_at",
        "last_success_at", "last_failure_at", "failing_since", "failure_streak", "previous_secret_expires_at",
        "created_at", "updated_at",
    ]  # fmt: skip
    readonly_fields = fields
    actions = ["enable_endpoints", "disable_endpoints"]

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint], enabled: bool) -> None:
        now = timezone.now()
        for endpoint in queryset:
            if endpoint.enabled == enabled:
                continue
            services.webhook_endpoint_update(
                endpoint=endpoint, enabled=enabled, actor=audit_actor(request), now=now
            )
            self.log_change(request, endpoint, f"{'Enabled' if enabled else 'Disabled'} by staff.")
        self.message_user(
            request, f"{'Enabled' if enabled else 'Disabled'} the selected endpoints.", messages.SUCCESS
        )

    @admin.action(description="Enable the selected endpoints (their pending deliveries go at once)")
    def enable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable the selected endpoints")
    def disable_endpoints(self, request: HttpRequest, queryset: QuerySet[WebhookEndpoint]) -> None:
        self._set_enabled(request, queryset, False)


class WebhookAttemptInline(ReadOnly, admin.TabularInline):
    model = WebhookAttempt
    fk_name = "delivery"
    extra = 0
    can_delete = False
    fields = ["number", "created_at", "success", "status_code", "error", "latency_ms", "response_body"]
    readonly_fields = fields
    ordering = ["number"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnly, admin.ModelAdmin):
    change_list_template = "admin/webhooks/webhookdelivery/change_list.html"
    list_display = [
        "event_id", "event_type", "created_at", "status", "attempts", "next_attempt_at", "last_status_code",
        "last_error", "endpoint", "partner",
    ]  # fmt: skip
    list_filter = ["status", "event__type", "endpoint__partner", "created_at"]
    search_fields = ["=event__id", "=event__object_id", "=endpoint__id", "endpoint__url"]
    search_help_text = "An event id, the id of the object it is about, or an endpoint's id or URL."
    list_select_related = ["event", "endpoint", "endpoint__partner"]
    date_hierarchy = "created_at"
    fields = [
        "id", "event", "endpoint", "status", "attempts", "next_attempt_at", "leased_until",
        "last_status_code", "last_error", "created_at", "delivered_at",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [WebhookAttemptInline]
    actions = ["resend_deliveries"]

    @admin.display(description="type", ordering="event__type")
    def event_type(self, delivery: WebhookDelivery) -> str:
        return delivery.event.type

    @admin.display(description="partner")
    def partner(self, delivery: WebhookDelivery) -> str:
        return str(delivery.endpoint.partner)

    @admin.action(description="Resend the selected deliveries' events to their endpoints")
    def resend_deliveries(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        now, resent = timezone.now(), 0
        for delivery in queryset.select_related("event", "endpoint"):
            try:
                again = services.webhook_delivery_resend(
                    delivery=delivery, actor=audit_actor(request), now=now
                )
            except services.WebhookError as refusal:
                self.message_user(
                    request, f"Not resent {delivery.event_id}: {refusal.message}", messages.WARNING
                )
                continue
            self.log_change(request, delivery, f"Resent by staff as delivery {again.pk}.")
            resent += 1
        self.message_user(request, f"Resent {resent} delivery(ies).", messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view(self.chart_view)
        return [path("chart/", view, name="webhooks_webhookdelivery_chart"), *super().get_urls()]

    def chart_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Webhook deliveries per hour",
            "opts": self.model._meta,
            "charts": [dashboard.attempts_chart(now=timezone.now())],
        }
        return TemplateResponse(request, "admin/webhooks/chart.html", context)
