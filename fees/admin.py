"""Admin: the escrow config (refresh), fee authorizations, the ledger with totals, a chart of fees per day."""

from __future__ import annotations

import json
from datetime import date, timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.services import audit_actor
from customers import services as customer_services
from customers.admin import PartnerAdmin, PartnerForm, short_text
from customers.models import Partner
from fees import selectors, services
from fees.models import EscrowConfig, FeeAuthorization, FeeLedgerEntry
from fees.money import usdc_text
from parsec.client import ParsecError


class PartnerFeePolicyForm(PartnerForm):
    """The partner form, with the fee checked against the fee policy where it is set."""

    def clean_fee_bps(self) -> int | None:
        fee_bps = self.cleaned_data.get("fee_bps")
        try:
            services.partner_fee_validate(fee_bps=fee_bps, config=EscrowConfig.objects.filter(pk=1).first())
        except services.FeeError as error:
            raise forms.ValidationError(error.message) from None
        return fee_bps


class PartnerWithFeePolicyAdmin(PartnerAdmin):
    form = PartnerFeePolicyForm

    def save_model(self, request: HttpRequest, obj: Partner, form, change: bool) -> None:
        money_fields = {"fee_bps", "revenue_share_bps", "affiliate_address"}
        if not change or not money_fields & set(form.changed_data):
            super().save_model(request, obj, form, change)
            return
        # A fee changes by one path, partner_fee_set (policy, fee version, the sync of the builder
        # users at Parsec), and the revenue terms by theirs, each audited with the old and the new
        # value; the other fields are saved as usual, around the money fields as they were.
        actor = audit_actor(request)
        wanted = {name: getattr(obj, name) for name in money_fields}
        for name in money_fields:
            setattr(obj, name, form.initial.get(name))
        super().save_model(request, obj, form, change)
        if {"revenue_share_bps", "affiliate_address"} & set(form.changed_data):
            customer_services.partner_revenue_terms_set(
                partner=obj,
                actor=actor,
                revenue_share_bps=wanted["revenue_share_bps"],
                affiliate_address=wanted["affiliate_address"],
            )
        if "fee_bps" in form.changed_data:
            services.partner_fee_set(
                partner=obj, fee_bps=wanted["fee_bps"], actor=actor, may_refresh_config=False
            )


# customers registers the partner admin; fees, which owns the fee policy, extends it (fees depends on
# customers, never the reverse).
admin.site.unregister(Partner)
admin.site.register(Partner, PartnerWithFeePolicyAdmin)

CHART_MAX_DAYS = 366
CHART_HEIGHT = 220  # px of the tallest bar
CHART_BAR_WIDTH = 6
CHART_SERIES = (
    ("authorized", "Authorized", "#4f6d8f"),
    ("distributed", "Distributed", "#3f9b5f"),
    ("refunded", "Refunded", "#c8793a"),
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: admins look, they never add, edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


def _usdc(amount: int | None) -> str:
    return "—" if amount is None else f"{usdc_text(int(amount))} USDC"


# --- Escrow config --------------------------------------------------------------------------------------


@admin.register(EscrowConfig)
class EscrowConfigAdmin(ReadOnlyAdmin):
    list_display = [
        "escrow_contract_address",
        "chain_id",
        "fee_escrow_enabled",
        "fee_bps",
        "min_fee_bps",
        "min_fee",
        "affiliate_fee_bps",
        "fetched_at",
        "freshness",
        "last_refresh_error",
    ]
    readonly_fields = [*list_display, "affiliate_address", "treasury_address", "last_refresh_failed_at"]
    actions = ["refresh"]
    change_list_template = "admin/fees/escrowconfig/change_list.html"

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        # Refreshing writes the row, so it takes the change permission, though no field is editable.
        return request.user.has_perm("fees.change_escrowconfig")

    @admin.display(description="minimum fee")
    def min_fee(self, config: EscrowConfig) -> str:
        return _usdc(config.min_fee_usdc)

    @admin.display(description="fresh")
    def freshness(self, config: EscrowConfig) -> str:
        fresh = services.escrow_config_is_fresh(config, now=timezone.now())
        return "yes" if fresh else "too old: fee-bearing orders are refused"

    def _refresh(self, request: HttpRequest) -> None:
        try:
            config = services.escrow_config_refresh(now=timezone.now())
        except (ParsecError, services.EscrowConfigInvalid) as error:
            self.message_user(request, f"Refresh failed; the last good config stays. {error}", messages.ERROR)
            return
        self.log_change(request, config, f"Refreshed from Parsec: {config.fee_bps} bps by default.")
        self.message_user(
            request,
            f"Escrow config refreshed: {config.fee_bps} bps by default, "
            f"escrow contract {config.escrow_contract_address}.",
            messages.SUCCESS,
        )

    @admin.action(description="Refresh from Parsec now", permissions=["refresh"])
    def refresh(self, request: HttpRequest, queryset) -> None:
        self._refresh(request)

    def get_urls(self):
        return [
            path("refresh/", self.admin_site.admin_view(self.refresh_view), name="fees_escrowconfig_refresh"),
            *super().get_urls(),
        ]

    def refresh_view(self, request: HttpRequest):
        # The changelist's button: works when no config has been fetched yet (no row to select).
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        self._refresh(request)
        return HttpResponseRedirect(reverse("admin:fees_escrowconfig_changelist"))

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "can_refresh": self.has_refresh_permission(request)}
        return super().changelist_view(request, extra_context=extra_context)


# --- Fee authorizations ----------------------------------------------------------------------------------


@admin.register(FeeAuthorization)
class FeeAuthorizationAdmin(ReadOnlyAdmin):
    # What a person needs first, so it fits a 1440 px screen: when, the state, the fee; long ids are
    # cut in the middle here (shown whole on the detail page, and matched whole by the search).
    list_display = [
        "id",
        "created_at",
        "state",
        "fee_usdc",
        "fee_bps",
        "exchange",
        "customer_label",
        "escrow_order",
        "partner",
        "deadline",
    ]
    list_filter = ["state", "exchange", "partner"]
    # "=": exact (case-insensitive) matches, so the indexes on these columns serve the search.
    search_fields = ["=escrow_order_id", "=payer", "=signer", "=recovered_signer"]
    list_select_related = ["partner", "customer"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "state",
        "partner",
        "customer",
        "exchange",
        "escrow_order_id",
        "fee_bps",
        "fee",
        "minimum_applied",
        "payer",
        "signer",
        "recovered_signer",
        "signature",
        "affiliate_address",
        "affiliate_fee_bps",
        "partner_share_bps",
        "chain_id",
        "verifying_contract",
        "deadline",
        "created_at",
        "signed_at",
        "escrowed_at",
        "finished_at",
        "typed_data_pretty",
        "ledger",
    ]
    readonly_fields = fields

    @admin.display(description="fee", ordering="fee_amount")
    def fee(self, authorization: FeeAuthorization) -> str:
        return f"{_usdc(authorization.fee_amount)} ({authorization.fee_amount} base units)"

    @admin.display(description="fee", ordering="fee_amount")
    def fee_usdc(self, authorization: FeeAuthorization) -> str:
        return _usdc(authorization.fee_amount)

    @admin.display(description="customer", ordering="customer__external_id")
    def customer_label(self, authorization: FeeAuthorization) -> str:
        external_id = authorization.customer.external_id
        return format_html(
            '<span title="{}">{}</span>', authorization.customer, short_text(external_id, keep=22)
        )

    @admin.display(description="escrow order id", ordering="escrow_order_id")
    def escrow_order(self, authorization: FeeAuthorization) -> str:
        escrow_order_id = authorization.escrow_order_id
        return format_html('<span title="{}">{}</span>', escrow_order_id, short_text(escrow_order_id))

    @admin.display(description="typed data (eth_signTypedData_v4)")
    def typed_data_pretty(self, authorization: FeeAuthorization) -> str:
        text = json.dumps(authorization.typed_data, indent=2, sort_keys=False)
        return format_html('<pre style="white-space: pre; margin: 0">{}</pre>', text)

    @admin.display(description="ledger entries")
    def ledger(self, authorization: FeeAuthorization) -> str:
        url = (
            reverse("admin:fees_feeledgerentry_changelist")
            + f"?fee_authorization__id__exact={authorization.pk}"
        )
        return format_html('<a href="{}">{} entries</a>', url, authorization.ledger_entries.count())


# --- Ledger ------------------------------------------------------------------------------------------------


@admin.register(FeeLedgerEntry)
class FeeLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "amount_usdc",
        "amount",
        "partner",
        "customer",
        "exchange",
        "fill_id",
        "authorization",
    ]
    list_filter = ["kind", "partner", "exchange", "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["=fill_id", "=fee_authorization__escrow_order_id", "=customer__external_id"]
    list_select_related = ["partner", "customer", "fee_authorization"]
    change_list_template = "admin/fees/feeledgerentry/change_list.html"

    @admin.display(description="USDC", ordering="amount")
    def amount_usdc(self, entry: FeeLedgerEntry) -> str:
        return usdc_text(entry.amount)

    @admin.display(description="fee authorization")
    def authorization(self, entry: FeeLedgerEntry) -> str:
        url = reverse("admin:fees_feeauthorization_change", args=[entry.fee_authorization_id])
        return format_html('<a href="{}">{}…</a>', url, entry.fee_authorization.escrow_order_id[:12])

    def changelist_view(self, request: HttpRequest, extra_context=None):
        response = super().changelist_view(request, extra_context=extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            # Totals of what the filters select, per partner and kind: one GROUP BY query.
            totals: dict[tuple[int, str], dict] = {}
            for row in selectors.fee_ledger_partner_totals(changelist.queryset):
                line = totals.setdefault(
                    (row["partner_id"], row["partner__name"]),
                    {"partner": row["partner__name"], "kinds": dict.fromkeys(FeeLedgerEntry.Kind.values, 0)},
                )
                line["kinds"][row["kind"]] = int(row["amount"])
            response.context_data["partner_totals"] = [
                {
                    "partner": line["partner"],
                    "amounts": [usdc_text(line["kinds"][kind]) for kind in FeeLedgerEntry.Kind.values],
                }
                for line in totals.values()
            ]
            response.context_data["kind_labels"] = FeeLedgerEntry.Kind.labels
            response.context_data["chart_url"] = reverse("admin:fees_feeledgerentry_chart")
        return response

    def get_urls(self):
        return [
            path("chart/", self.admin_site.admin_view(self.chart_view), name="fees_feeledgerentry_chart"),
            *super().get_urls(),
        ]

    def chart_view(self, request: HttpRequest):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = min(max(int(request.GET.get("days", 30)), 1), CHART_MAX_DAYS)
        except ValueError:
            days = 30
        partner = None
        if request.GET.get("partner", "").isdigit():
            partner = Partner.objects.filter(pk=int(request.GET["partner"])).first()
        end = timezone.now().date()
        start = end - timedelta(days=days - 1)
        rows = selectors.fees_per_day(start=start, end=end, partner_id=partner.pk if partner else None)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Fees per day",
            "days": days,
            "partner": partner,
            "partners": Partner.objects.order_by("name").values_list("pk", "name"),
            "day_choices": (7, 30, 90, 365),
            "chart": fee_chart(rows),
            "rows": [
                {"day": row["day"], **{key: usdc_text(row[key]) for key, _, _ in CHART_SERIES}}
                for row in reversed(rows)
            ],
        }
        return TemplateResponse(request, "admin/fees/feeledgerentry/chart.html", context)


def fee_chart(rows: list[dict]) -> dict:
    """Bar geometry for the server-rendered SVG: three bars per day, scaled to the largest amount."""
    peak = max((row[key] for row in rows for key, _, _ in CHART_SERIES), default=0)
    group_width = CHART_BAR_WIDTH * len(CHART_SERIES) + 4
    bars = []
    labels = []
    for index, row in enumerate(rows):
        day: date = row["day"]
        x0 = 60 + index * group_width
        for offset, (key, label, colour) in enumerate(CHART_SERIES):
            height = round(row[key] * CHART_HEIGHT / peak) if peak else 0
            bars.append(
                {
                    "x": x0 + offset * CHART_BAR_WIDTH,
                    "y": 10 + CHART_HEIGHT - height,
                    "height": height,
                    "colour": colour,
                    "title": f"{day.isoformat()} {label}: {usdc_text(row[key])} USDC",
                }
            )
        if index % max(1, len(rows) // 8) == 0:
            labels.append({"x": x0, "text": day.strftime("%b %d")})
    return {
        "width": 70 + len(rows) * group_width,
        "height": CHART_HEIGHT + 40,
        "baseline": 10 + CHART_HEIGHT,
        "label_y": CHART_HEIGHT + 28,
        "bar_width": CHART_BAR_WIDTH,
        "bars": bars,
        "labels": labels,
        "peak": usdc_text(peak),
        "series": [{"label": label, "colour": colour} for _, label, colour in CHART_SERIES],
    }
