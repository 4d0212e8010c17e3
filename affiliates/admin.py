"""Admin of the affiliate program: referral codes with their figures, attributions (flagged filter),
commissions (reverse), payouts (run, mark paid, cancel), payout details, and a dashboard.

The models live in referrals and fees; their admin lives here, to the right of orders, because it shows
figures read from fills and orders. Actions call the same services the beat and the partner API use.

Over 400 lines: six model admins of one program (codes, attributions, payout details, profiles,
commissions, payouts), each short, with their confirmation actions and the dashboard.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from affiliates import selectors, services
from audit.services import audit_actor
from customers.addresses import InvalidAddress, checksum_address
from fees.commission_models import Commission, Payout
from fees.money import usdc_text
from orders.admin import staff_label
from orders.dashboard import stacked_column_chart, usdc_axis_label, usdc_label
from referrals import services as referral_services
from referrals.models import AffiliateProfile, PayoutDetailsChange, Referral, ReferralClickDay, ReferralCode


def _sum_of(queryset, field: str):
    return Coalesce(Subquery(queryset.values(field)[:1]), 0)


@admin.register(ReferralCode)
class ReferralCodeAdmin(admin.ModelAdmin):
    list_display = [
        "code",
        "partner",
        "label",
        "revenue_share_bps",
        "active",
        "clicks",
        "signups",
        "commission",
    ]
    list_filter = ["active", "partner"]
    search_fields = ["code", "label", "partner__name"]
    list_select_related = ["partner"]
    fields = ["partner", "code", "label", "revenue_share_bps", "active", "created_at"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        # Terms are frozen into attributions; changing them later would not move what was promised.
        return ["partner", "code", "revenue_share_bps", "created_at"] if obj else ["created_at"]

    def get_queryset(self, request):
        clicks = (
            ReferralClickDay.objects.filter(code=OuterRef("pk"), outcome=ReferralClickDay.Outcome.REMEMBERED)
            .values("code")
            .annotate(total=Sum("clicks"))
        )
        signups = Referral.objects.filter(code=OuterRef("pk")).values("code").annotate(total=Count("id"))
        commission = (
            Commission.objects.filter(customer__referral__code=OuterRef("pk"), partner=OuterRef("partner"))
            .values("partner")
            .annotate(total=Sum("amount"))
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                click_total=_sum_of(clicks, "total"),
                signup_total=_sum_of(signups, "total"),
                commission_total=_sum_of(commission, "total"),
            )
        )

    @admin.display(description="clicks", ordering="click_total")
    def clicks(self, code) -> int:
        return code.click_total

    @admin.display(description="sign-ups", ordering="signup_total")
    def signups(self, code) -> int:
        return code.signup_total

    @admin.display(description="commission (USDC)", ordering="commission_total")
    def commission(self, code) -> str:
        return usdc_text(code.commission_total)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            referral_services.referral_code_update(referral_code=obj, label=obj.label, active=obj.active)
            return
        created = referral_services.referral_code_create(
            partner=obj.partner,
            code=obj.code,
            label=obj.label,
            revenue_share_bps=obj.revenue_share_bps,
            now=timezone.now(),
        )
        obj.pk = created.pk


class FlaggedFilter(admin.SimpleListFilter):
    title = "flagged"
    parameter_name = "flagged"

    def lookups(self, request, model_admin):
        return [("yes", "Flagged (self-referral)"), ("no", "Not flagged")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(flagged_reason="")
        if self.value() == "no":
            return queryset.filter(flagged_reason="")
        return queryset


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = [
        "customer",
        "partner",
        "code",
        "revenue_share_bps",
        "created_at",
        "flagged",
        "flagged_reason",
    ]
    list_filter = [FlaggedFilter, "partner"]
    search_fields = ["=customer__id", "signer", "code__code", "partner__name"]
    list_select_related = ["customer", "partner", "code"]
    readonly_fields = [field.name for field in Referral._meta.fields]

    @admin.display(boolean=True, description="flagged")
    def flagged(self, referral: Referral) -> bool:
        return referral.is_flagged

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(PayoutDetailsChange)
class PayoutDetailsChangeAdmin(admin.ModelAdmin):
    """Append-only history of payout addresses and notes: who changed what, and when."""

    list_display = ["partner", "old_address", "new_address", "new_note", "changed_by", "changed_at"]
    list_filter = ["partner"]
    search_fields = ["partner__name", "old_address", "new_address"]
    list_select_related = ["partner"]
    readonly_fields = [field.name for field in PayoutDetailsChange._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class AffiliateProfileForm(forms.ModelForm):
    class Meta:
        model = AffiliateProfile
        fields = ["partner", "max_revenue_share_bps", "payout_address", "payout_note"]

    def clean_payout_address(self) -> str:
        # Any case is accepted and stored checksummed; a mixed-case address with a wrong checksum is a typo.
        value = self.cleaned_data["payout_address"]
        if not value:
            return ""
        try:
            return checksum_address(value)
        except InvalidAddress as error:
            raise forms.ValidationError(str(error)) from None


@admin.register(AffiliateProfile)
class AffiliateProfileAdmin(admin.ModelAdmin):
    """The partner's payout address (or off-chain note) and the highest share its codes may offer."""

    form = AffiliateProfileForm
    list_display = ["partner", "payout_address", "payout_note", "max_revenue_share_bps", "updated_at"]
    search_fields = ["partner__name", "payout_address"]
    list_select_related = ["partner"]
    fields = ["partner", "max_revenue_share_bps", "payout_address", "payout_note", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["partner", "updated_at"] if obj else ["updated_at"]

    def save_model(self, request, obj, form, change) -> None:
        # Through the service, so every change of the address or note is recorded with who made it.
        profile = referral_services.payout_details_set(
            partner=obj.partner,
            payout_address=obj.payout_address,
            payout_note=obj.payout_note,
            changed_by=staff_label(request),
            now=timezone.now(),
            actor=audit_actor(request),
        )
        AffiliateProfile.objects.filter(pk=profile.pk).update(max_revenue_share_bps=obj.max_revenue_share_bps)
        obj.pk = profile.pk


def _action_form(modeladmin, request, queryset, *, action, title, explanation, field, label, submit):
    return TemplateResponse(
        request,
        "admin/affiliates/action_form.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "opts": modeladmin.model._meta,
            "items": list(queryset),
            "explanation": explanation,
            "field_name": field,
            "field_label": label,
            "submit_label": submit,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "changelist_url": reverse(f"admin:fees_{modeladmin.model._meta.model_name}_changelist"),
        },
    )


@admin.register(Commission)
class CommissionAdmin(admin.ModelAdmin):
    list_display = ["id", "partner", "kind", "state", "usdc", "customer", "fill_id", "payout", "created_at"]
    list_filter = ["state", "kind", "partner"]
    search_fields = ["=id", "fill_id", "=customer__id", "partner__name"]
    list_select_related = ["partner", "customer"]
    readonly_fields = [field.name for field in Commission._meta.fields]
    actions = ["reverse_commissions"]
    change_list_template = "admin/fees/commission/change_list.html"

    @admin.display(description="amount (USDC)", ordering="amount")
    def usdc(self, commission: Commission) -> str:
        return usdc_text(commission.amount)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Reverse the selected commissions (with a reason)")
    def reverse_commissions(
        self, request: HttpRequest, queryset: QuerySet[Commission]
    ) -> HttpResponse | None:
        reason = request.POST.get("reason", "").strip()
        if request.POST.get("post") != "yes" or not reason:
            return _action_form(
                self,
                request,
                queryset,
                action="reverse_commissions",
                title="Reverse these commissions?",
                explanation="Each gets a negative adjustment. An unpaid one then nets to zero; a paid one is "
                "clawed back from the partner's next payout.",
                field="reason",
                label="Reason",
                submit="Reverse",
            )
        now = timezone.now()
        done = 0
        for commission in queryset:
            try:
                services.commission_reverse(
                    commission=commission,
                    reason=reason,
                    reversed_by=staff_label(request),
                    now=now,
                    actor=audit_actor(request),
                )
            except services.AffiliateError as error:
                self.message_user(request, f"Commission {commission.pk}: {error.message}", messages.WARNING)
                continue
            done += 1
            self.log_change(request, commission, f"Reversed by {staff_label(request)}: {reason}")
        self.message_user(request, f"Reversed {done} commission(s).", messages.SUCCESS)
        return None

    def get_urls(self):
        view = self.admin_site.admin_view(self.dashboard_view)
        return [path("dashboard/", view, name="fees_commission_dashboard"), *super().get_urls()]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        table: dict[date, dict[str, int]] = {}
        for row in reversed(selectors.commissions_per_partner_month()):
            month = row["month"].date() if hasattr(row["month"], "date") else row["month"]
            table.setdefault(month, {})[row["partner__name"]] = max(int(row["total"]), 0)
        chart = stacked_column_chart(
            "Commissions booked per month, by partner (USDC, reversals netted)",
            {month: values for month, values in sorted(table.items())[-12:]},
            text=usdc_label,
            axis_text=usdc_axis_label,
        )
        owed = []
        for row in selectors.owed_now():
            pending, available, in_payout = (
                int(row[key] or 0) for key in ("pending", "available", "in_payout")
            )
            owed.append(
                {
                    "partner_id": row["partner_id"],
                    "name": row["partner__name"],
                    "pending": usdc_text(pending),
                    "available": usdc_text(available),
                    "in_payout": usdc_text(in_payout),
                    "owed": usdc_text(available + in_payout),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Affiliate dashboard",
            "opts": self.model._meta,
            "chart": chart,
            "owed": owed,
        }
        return TemplateResponse(request, "admin/affiliates/dashboard.html", context)


@admin.register(Payout)
class PayoutAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "partner",
        "period_label",
        "state",
        "usdc",
        "commission_count",
        "reference",
        "paid_at",
    ]
    list_filter = ["state", "period", "partner"]
    search_fields = ["=id", "partner__name", "reference"]
    list_select_related = ["partner"]
    readonly_fields = [field.name for field in Payout._meta.fields]
    actions = ["mark_paid", "cancel_payouts"]
    change_list_template = "admin/fees/payout/change_list.html"

    @admin.display(description="period", ordering="period")
    def period_label(self, payout: Payout) -> str:
        return f"{payout.period:%Y-%m}"

    @admin.display(description="amount (USDC)", ordering="amount")
    def usdc(self, payout: Payout) -> str:
        return usdc_text(payout.amount)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Mark the selected payouts paid (with the transaction hash or reference)")
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Payout]) -> HttpResponse | None:
        reference = request.POST.get("reference", "").strip()
        if request.POST.get("post") != "yes" or not reference:
            return _action_form(
                self,
                request,
                queryset,
                action="mark_paid",
                title="Mark these payouts paid?",
                explanation="A paid payout never changes again; its commissions become paid.",
                field="reference",
                label="Transaction hash or payment reference",
                submit="Mark paid",
            )
        now = timezone.now()
        for payout in queryset:
            try:
                services.payout_mark_paid(
                    payout=payout,
                    reference=reference,
                    paid_by=staff_label(request),
                    actor=audit_actor(request),
                    now=now,
                )
            except services.AffiliateError as error:
                self.message_user(request, f"Payout {payout.pk}: {error.message}", messages.WARNING)
                continue
            self.log_change(request, payout, f"Marked paid by {staff_label(request)}: {reference}")
            self.message_user(request, f"Payout {payout.pk} marked paid.", messages.SUCCESS)
        return None

    @admin.action(description="Cancel the selected payouts (their commissions become available again)")
    def cancel_payouts(self, request: HttpRequest, queryset: QuerySet[Payout]) -> HttpResponse | None:
        if request.POST.get("post") != "yes":
            return _action_form(
                self,
                request,
                queryset,
                action="cancel_payouts",
                title="Cancel these payouts?",
                explanation="Their commissions become available again for the next payout run. Paid payouts "
                "are left as they are.",
                field="",
                label="",
                submit="Yes, cancel",
            )
        now = timezone.now()
        for payout in queryset:
            try:
                services.payout_cancel(
                    payout=payout, cancelled_by=staff_label(request), actor=audit_actor(request), now=now
                )
            except services.AffiliateError as error:
                self.message_user(request, f"Payout {payout.pk}: {error.message}", messages.WARNING)
                continue
            self.log_change(request, payout, f"Cancelled by {staff_label(request)}")
            self.message_user(request, f"Payout {payout.pk} cancelled.", messages.SUCCESS)
        return None

    def get_urls(self):
        view = self.admin_site.admin_view(self.run_view)
        return [path("run/", view, name="fees_payout_run"), *super().get_urls()]

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        now = timezone.now()
        if request.method == "POST":
            try:
                period = services.period_parse(request.POST.get("period", ""))
                result = services.payout_run(period=period, actor=audit_actor(request), now=now)
            except services.AffiliateError as error:
                self.message_user(request, error.message, messages.ERROR)
                return HttpResponseRedirect(reverse("admin:fees_payout_run"))
            self.message_user(
                request,
                f"Payout run {period:%Y-%m}: {len(result.created)} payout(s) made, {result.carried_over} "
                f"partner(s) below the minimum carried over, {result.already_made} already made.",
                messages.SUCCESS,
            )
            return HttpResponseRedirect(reverse("admin:fees_payout_changelist"))
        periods = []
        period = services.previous_period(now)
        for _ in range(12):  # the last twelve closed months, newest first
            periods.append(f"{period:%Y-%m}")
            period = services.previous_period(datetime(period.year, period.month, 1, tzinfo=UTC))
        context = {
            **self.admin_site.each_context(request),
            "title": "Payout run",
            "opts": self.model._meta,
            "periods": periods,
            "minimum": settings.PAYOUT_MINIMUM_USDC,
        }
        return TemplateResponse(request, "admin/affiliates/payout_run.html", context)
