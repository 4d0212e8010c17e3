"""Admin for orders (read-only, with actions that call the services partners use) and the dashboard."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from orders import dashboard, reconciliation, services
from orders.models import Fill, IdempotencyKey, Order, OrderEvent
from parsec.client import ParsecError


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class FillInline(ReadOnlyInline):
    model = Fill
    fields = ["fill_id", "price", "size", "fee", "is_taker", "created_at", "recorded_at"]
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ["created_at", "from_status", "to_status", "cause", "detail"]
    readonly_fields = fields


class DuplicateAtParsecFilter(admin.SimpleListFilter):
    """Orders reconciliation found at Parsec twice (a send in doubt that arrived late): an operator's cue."""

    title = "found twice at Parsec"
    parameter_name = "duplicate"

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            found = OrderEvent.objects.filter(cause=reconciliation.DUPLICATE_CAUSE).values("order_id")
            return queryset.filter(id__in=found)
        return queryset


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    change_list_template = "admin/orders/order/change_list.html"
    list_display = [
        "id",
        "partner",
        "customer",
        "exchange",
        "market_id",
        "side",
        "price",
        "size",
        "filled",
        "status",
        "fee_state",
        "created_at",
    ]
    list_filter = ["status", "exchange", "partner", "created_at", DuplicateAtParsecFilter]
    # Ids match exactly; the rest by substring.
    search_fields = [
        "=id",
        "=parsec_order_id",
        "market_id",
        "=customer__id",
        "customer__external_id",
        "=payer_address",
        "=signer_address",
    ]
    list_select_related = ["partner", "customer", "fee_authorization"]
    date_hierarchy = "created_at"
    inlines = [FillInline, OrderEventInline]
    actions = ["cancel_orders", "reconcile_now", "resend_orders"]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        # Orders change only through their services: every field is shown, none is editable.
        return [field.name for field in Order._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="fee", ordering="fee_authorization__state")
    def fee_state(self, order: Order) -> str:
        return order.fee_authorization.state if order.fee_authorization_id else "—"

    @admin.action(description="Cancel the selected orders")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        now = timezone.now()
        done, refused = 0, 0
        for order in queryset.select_related("fee_authorization"):
            try:
                services.order_cancel_request(order=order, now=now)
                done += 1
            except services.OrderError:
                refused += 1
        self.message_user(request, f"Cancel requested for {done} order(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} order(s) were already final.", messages.WARNING)

    @admin.action(description="Reconcile the selected orders' customers with Parsec now")
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        pairs = set(queryset.values_list("customer_id", "exchange").distinct().order_by())
        failed = 0
        for customer_id, exchange in pairs:
            try:
                reconciliation.reconcile_customer_exchange(
                    customer_id=customer_id, exchange=exchange, now=timezone.now()
                )
            except ParsecError as error:
                failed += 1
                self.message_user(request, f"{customer_id} on {exchange}: {error}", messages.ERROR)
        self.message_user(
            request, f"Reconciled {len(pairs) - failed} customer-exchange pair(s).", messages.SUCCESS
        )

    @admin.action(description="Send the selected unknown orders again (after the listings' grace period)")
    def resend_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        now = timezone.now()
        resent = 0
        for order in queryset.select_related("fee_authorization"):
            problem = services.order_resend_check(order, now=now)
            if problem:
                self.message_user(request, f"Not resending {order.id}: {problem}.", messages.WARNING)
                continue
            resent += services.order_resend(order_id=order.id, cause="resent_by_admin", now=now)
        self.message_user(request, f"Resent {resent} order(s).", messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", view, name="orders_order_dashboard"), *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        counts = dashboard.orders_by_status()
        context = {
            **self.admin_site.each_context(request),
            "title": "Orders dashboard",
            "opts": self.model._meta,
            "charts": dashboard.dashboard_charts(now=timezone.now()),
            "total_orders": sum(counts.values()),
            "live_orders": sum(counts[status] for status in Order.LIVE_STATUSES),
            "in_doubt": counts[Order.Status.UNKNOWN],
        }
        return TemplateResponse(request, "admin/orders/dashboard.html", context)


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["key", "partner", "state", "response_status", "order", "created_at"]
    list_filter = ["state", "partner"]
    search_fields = ["=key", "=order__id"]
    list_select_related = ["partner"]
    fields = ["partner", "key", "state", "response_status", "order", "created_at", "completed_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
