"""Admin for orders (read-only, with actions that call the services partners use) and the dashboard."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.services import audit_actor
from builder_platform.values import plain_number
from customers.admin import short_text
from customers.models import Customer, Partner
from fees.money import usdc_text
from orders import dashboard
from orders.errors import OrderError
from orders.models import Fill, IdempotencyKey, Order, OrderEvent, ReconcileState
from orders.services import cancel, in_doubt, mass_cancel, reconcile, staff
from orders.vocabulary import EventCause
from parsec.client import ParsecError
from parsec.contract import EXCHANGES


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
            found = OrderEvent.objects.filter(cause=in_doubt.DUPLICATE_CAUSE).values("order_id")
            return queryset.filter(id__in=found)
        return queryset


def staff_label(request: HttpRequest) -> str:
    return request.user.get_username()


class CancelAllForm(forms.Form):
    """The filters of a staff mass cancel; at least one, so no click cancels the whole platform."""

    partner = forms.ModelChoiceField(Partner.objects.all(), required=False)
    customer = forms.UUIDField(required=False, help_text="Our customer id.")
    exchange = forms.ChoiceField(choices=[("", "—"), *((name, name) for name in EXCHANGES)], required=False)
    market_id = forms.CharField(required=False, max_length=200)

    def clean_customer(self) -> Customer | None:
        customer_id = self.cleaned_data.get("customer")
        if customer_id is None:
            return None
        customer = Customer.objects.select_related("partner").filter(pk=customer_id).first()
        if customer is None:
            raise forms.ValidationError("No customer with this id.")
        return customer

    def clean(self) -> dict:
        data = super().clean()
        if not any(data.get(name) for name in ("partner", "customer", "exchange", "market_id")):
            raise forms.ValidationError("Choose a partner, a customer, an exchange or a market.")
        return data

    def filters(self) -> dict:
        data = self.cleaned_data
        customer = data.get("customer")
        return {
            "partner": data.get("partner") or (customer.partner if customer else None),
            "customer": customer,
            "exchange": data.get("exchange", ""),
            "market_id": data.get("market_id", "").strip(),
        }

    def scope_text(self) -> str:
        data = self.cleaned_data
        parts = [
            f"partner {data['partner']}" if data.get("partner") else "",
            f"customer {data['customer'].external_id}" if data.get("customer") else "",
            f"exchange {data['exchange']}" if data.get("exchange") else "",
            f"market {data['market_id']}" if data.get("market_id") else "",
        ]
        return ", ".join(part for part in parts if part)


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    change_list_template = "admin/orders/order/change_list.html"
    # What a person scanning orders needs first, left to right, so it fits a 1440 px screen: when,
    # what state (order, then fee), then what was asked. Long ids are cut in the middle here and
    # shown whole on the detail page; the search still matches them whole.
    list_display = [
        "short_id",
        "created_at",
        "status",
        "fee",
        "exchange",
        "order_summary",
        "filled_amount",
        "customer_label",
        "market",
        "partner",
    ]
    list_display_links = ["short_id"]
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

    @admin.display(description="id", ordering="id")
    def short_id(self, order: Order) -> str:
        return format_html('<span title="{}">{}…</span>', order.id, str(order.id)[:8])

    @admin.display(description="fee", ordering="fee_authorization__state")
    def fee(self, order: Order) -> str:
        authorization = order.fee_authorization
        if authorization is None:
            return "—"
        return f"{authorization.state} · {usdc_text(authorization.fee_amount)} USDC"

    @admin.display(description="order")
    def order_summary(self, order: Order) -> str:
        # One short phrase instead of four columns (side, size, outcome, price): room for the status.
        size, price = plain_number(order.size), plain_number(order.price)
        return f"{order.get_side_display()} {size} {order.outcome} @ {price}"

    @admin.display(description="filled", ordering="filled")
    def filled_amount(self, order: Order) -> str:
        return plain_number(order.filled)

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_label(self, order: Order) -> str:
        external_id = order.customer.external_id
        return format_html('<span title="{}">{}</span>', order.customer, short_text(external_id, keep=22))

    @admin.display(description="market", ordering="market_id")
    def market(self, order: Order) -> str:
        return format_html('<span title="{}">{}</span>', order.market_id, short_text(order.market_id))

    def _record(self, request: HttpRequest, order: Order, *, action: str, outcome: str, now) -> None:
        """Who did what, in the admin log and in the order's own history."""
        staff.order_staff_action_record(
            order_id=order.id,
            action=action,
            staff_user=staff_label(request),
            staff_user_id=request.user.pk,
            outcome=outcome,
            now=now,
        )
        self.log_change(request, order, f"{action.capitalize()} by {staff_label(request)}: {outcome}.")

    @admin.action(description="Cancel the selected orders")
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse | None:
        if request.POST.get("post") != "yes":
            # Nothing is cancelled until the person has seen how many orders, and which.
            return self._cancel_confirmation(request, queryset)
        now = timezone.now()
        done, refused = 0, 0
        for order in queryset.select_related("fee_authorization"):
            try:
                cancel.order_cancel_request(order=order, now=now)
            except OrderError as error:
                refused += 1
                self._record(request, order, action="cancel", outcome=f"refused, {error.message}", now=now)
                continue
            done += 1
            self._record(request, order, action="cancel", outcome="cancel requested", now=now)
        self.message_user(request, f"Cancel requested for {done} order(s).", messages.SUCCESS)
        if refused:
            self.message_user(
                request,
                f"{refused} order(s) not cancelled: already final, or changing state (try again).",
                messages.WARNING,
            )
        return None

    def _cancel_confirmation(self, request: HttpRequest, queryset: QuerySet[Order]) -> HttpResponse:
        orders = list(queryset.select_related("customer", "fee_authorization").order_by("-created_at"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel these orders?",
            "opts": self.model._meta,
            "orders": orders,
            "final_count": sum(order.status in Order.FINAL_STATUSES for order in orders),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "cancel_orders",
        }
        return TemplateResponse(request, "admin/orders/order/cancel_confirmation.html", context)

    @admin.action(description="Reconcile the selected orders' customers with Parsec now")
    def reconcile_now(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        orders = list(queryset)
        pairs = {(order.customer_id, order.exchange) for order in orders}
        problems: dict[tuple, str] = {}
        for customer_id, exchange in pairs:
            try:
                reconcile.reconcile_customer_exchange(
                    customer_id=customer_id, exchange=exchange, now=timezone.now()
                )
            except ParsecError as error:
                problems[(customer_id, exchange)] = str(error)
                self.message_user(request, f"{customer_id} on {exchange}: {error}", messages.ERROR)
        now = timezone.now()
        for order in orders:
            problem = problems.get((order.customer_id, order.exchange))
            outcome = f"failed, {problem}" if problem else "reconciled with Parsec"
            self._record(request, order, action="reconcile", outcome=outcome, now=now)
        self.message_user(
            request, f"Reconciled {len(pairs) - len(problems)} customer-exchange pair(s).", messages.SUCCESS
        )

    @admin.action(description="Send the selected unknown orders again (after the listings' grace period)")
    def resend_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        now = timezone.now()
        resent = 0
        for order in queryset.select_related("fee_authorization"):
            problem = in_doubt.order_resend_check(order, now=now)
            if problem:
                self.message_user(request, f"Not resending {order.id}: {problem}.", messages.WARNING)
                self._record(request, order, action="resend", outcome=f"refused, {problem}", now=now)
                continue
            sent = in_doubt.order_resend(
                order_id=order.id, cause=EventCause.RESENT_BY_ADMIN, actor=audit_actor(request), now=now
            )
            resent += sent
            outcome = "sent again" if sent else "not sent, the order moved on meanwhile"
            self._record(request, order, action="resend", outcome=outcome, now=now)
        self.message_user(request, f"Resent {resent} order(s).", messages.SUCCESS)

    def get_urls(self):
        view = self.admin_site.admin_view(self.dashboard_view)
        cancel_all = self.admin_site.admin_view(self.cancel_all_view)
        return [
            path("dashboard/", view, name="orders_order_dashboard"),
            path("cancel-all/", cancel_all, name="orders_order_cancel_all"),
            *super().get_urls(),
        ]

    def cancel_all_view(self, request: HttpRequest) -> HttpResponse:
        """Cancel every live order of a partner, customer, exchange or market: the count first, then yes."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = CancelAllForm(request.POST if request.method == "POST" else request.GET or None)
        count, scope = None, ""
        if form.is_bound and form.is_valid():
            filters = form.filters()
            scope = form.scope_text()
            if request.method == "POST":
                result = mass_cancel.orders_cancel_all(
                    **filters, actor=audit_actor(request), now=timezone.now()
                )
                self.message_user(
                    request,
                    f"Asked {result.cancel_requested} live order(s) of {scope} to cancel.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:orders_order_changelist"))
            count = mass_cancel.orders_live_matching(**filters).count()
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel all live orders",
            "opts": self.model._meta,
            "form": form,
            "count": count,
            "scope": scope,
        }
        return TemplateResponse(request, "admin/orders/order/cancel_all.html", context)

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


class RefusedFilter(admin.SimpleListFilter):
    """Pairs whose listing Parsec refuses (reconciliation backs off): an operator's cue to look."""

    title = "refused by Parsec"
    parameter_name = "refused"

    def lookups(self, request, model_admin):
        return [("yes", "Yes")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(refusals__gt=0)
        return queryset


@admin.register(ReconcileState)
class ReconcileStateAdmin(admin.ModelAdmin):
    """Per (customer, exchange): when reconciliation last ran, and Parsec's refusal if it refuses."""

    list_display = [
        "customer",
        "exchange",
        "reconciled_at",
        "refusals",
        "last_error_code",
        "error",
        "retry_at",
    ]
    list_filter = [RefusedFilter, "exchange", "last_error_code"]
    search_fields = ["=customer__id", "customer__external_id"]
    list_select_related = ["customer"]
    ordering = ["-refusals", "-refused_at"]
    readonly_fields = [field.name for field in ReconcileState._meta.fields]

    @admin.display(description="Parsec's refusal")
    def error(self, state: ReconcileState) -> str:
        message = state.last_error_message
        return message if len(message) <= 80 else message[:79] + "…"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
