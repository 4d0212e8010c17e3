"""Admin for partners (with key creation), API keys (revocation), customers, wallets and challenges."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from audit.services import audit_actor
from customers import services
from customers.addresses import InvalidAddress, checksum_address
from customers.models import Customer, Partner, PartnerApiKey, Wallet, WalletChallenge


def short_text(value: str, *, keep: int = 18) -> str:
    """A long id cut in the middle for a list column (the full value is on the detail page)."""
    return value if len(value) <= keep + 2 else f"{value[: keep - 6]}…{value[-6:]}"


def _fee_text(fee_bps: int | None) -> str:
    return "the escrow config's default" if fee_bps is None else f"{fee_bps} bps"


class PartnerForm(forms.ModelForm):
    class Meta:
        model = Partner
        # status moves only by the suspend / reactivate actions, which write the audit trail.
        fields = ["name", "fee_bps", "affiliate_address", "revenue_share_bps", "is_builtin"]
        help_texts = {
            "fee_bps": "Builder fee in basis points (100 = 1%); empty uses the escrow config's default.",
            "revenue_share_bps": "Share of collected fees owed to the partner off-chain, in basis points.",
        }

    def clean_affiliate_address(self) -> str:
        value = self.cleaned_data["affiliate_address"].strip()
        if not value:
            return ""
        try:
            return checksum_address(value)  # accept any case, store the checksummed form
        except InvalidAddress as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = [
        "name",
        "status",
        "fee_bps",
        "revenue_share_bps",
        "affiliate_address",
        "is_builtin",
        "active_keys",
        "created_at",
    ]
    list_filter = ["status", "is_builtin"]
    search_fields = ["name", "affiliate_address"]
    readonly_fields = ["status", "created_at"]
    actions = ["create_api_key", "create_read_api_key", "suspend", "reactivate", "cancel_all_orders"]

    def construct_change_message(self, request: HttpRequest, form, formsets, add: bool = False):
        message = super().construct_change_message(request, form, formsets, add)
        if add or "fee_bps" not in form.changed_data:
            return message
        # Django's own message names the changed fields only; a fee is money, so the admin log keeps the
        # old and the new value, in words the history page shows as they are.
        old = _fee_text(form.initial.get("fee_bps"))
        new = _fee_text(form.cleaned_data.get("fee_bps"))
        fields_text = LogEntry(change_message=json.dumps(message)).get_change_message()
        return f"{fields_text} Fee changed from {old} to {new}."

    def get_queryset(self, request: HttpRequest) -> QuerySet[Partner]:
        # One query for the key counts of a whole page.
        return (
            super()
            .get_queryset(request)
            .annotate(active_key_count=Count("api_keys", filter=Q(api_keys__revoked_at__isnull=True)))
        )

    @admin.display(description="active keys", ordering="active_key_count")
    def active_keys(self, partner: Partner) -> int:
        return partner.active_key_count

    @admin.action(description="Create a read_write API key for the selected partners (shown once)")
    def create_api_key(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._create_keys(request, queryset, PartnerApiKey.Scope.READ_WRITE)

    @admin.action(description="Create a read-only API key for the selected partners (shown once)")
    def create_read_api_key(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        self._create_keys(request, queryset, PartnerApiKey.Scope.READ)

    def _create_keys(self, request: HttpRequest, queryset: QuerySet[Partner], scope: str) -> None:
        for partner in queryset:
            api_key, raw_key = services.partner_api_key_create(
                partner=partner, actor=audit_actor(request), name=f"admin: {request.user}", scope=scope
            )
            self.log_addition(
                request, api_key, f"Created {scope} API key {api_key} for partner {partner.name}."
            )
            # The raw key exists only in this message: the database keeps its hash.
            self.message_user(
                request,
                f"New {scope} API key for {partner.name}: {raw_key} — copy it now, it will not be "
                "shown again.",
                messages.WARNING,
            )

    @admin.action(description="Suspend the selected partners (reads and cancels only)")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        _partner_status_action(self, request, queryset, Partner.Status.SUSPENDED, "Suspended")

    @admin.action(description="Reactivate the selected partners")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Partner]) -> None:
        _partner_status_action(self, request, queryset, Partner.Status.ACTIVE, "Reactivated")

    @admin.action(description="Cancel all live orders of the selected partner (asks to confirm)")
    def cancel_all_orders(
        self, request: HttpRequest, queryset: QuerySet[Partner]
    ) -> HttpResponseRedirect | None:
        return _cancel_all_redirect(self, request, queryset, "partner")


def _partner_status_action(model_admin, request, queryset, status: str, verb: str) -> None:
    actor, now = audit_actor(request), timezone.now()
    changed = 0
    for partner in queryset:
        if services.partner_status_set(partner=partner, status=status, actor=actor, now=now):
            changed += 1
            model_admin.log_change(request, partner, f"{verb} the partner.")
    model_admin.message_user(request, f"{verb} {changed} partner(s).", messages.SUCCESS)


def _cancel_all_redirect(model_admin, request, queryset, name: str) -> HttpResponseRedirect | None:
    """To the orders admin's mass-cancel page for one partner or customer, which shows the count first."""
    chosen = list(queryset.values_list("pk", flat=True)[:2])
    if len(chosen) != 1:
        model_admin.message_user(
            request, f"Select exactly one {name} to cancel its orders.", messages.WARNING
        )
        return None
    # By URL name: the orders app sits to the right of customers, so it is not imported here.
    return HttpResponseRedirect(f"{reverse('admin:orders_order_cancel_all')}?{name}={chosen[0]}")


class RevokedFilter(admin.SimpleListFilter):
    title = "revoked"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("yes", "Revoked"), ("no", "Active")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(revoked_at__isnull=True)
        return queryset


@admin.register(PartnerApiKey)
class PartnerApiKeyAdmin(admin.ModelAdmin):
    # The hash is never displayed; keys are created from the partner list, where each is shown once.
    fields = ["partner", "name", "key_prefix", "scope", "created_at", "last_used_at", "revoked_at"]
    # The scope is chosen when the key is made: widening a key in place would change what a leaked
    # copy can do without anyone issuing it.
    readonly_fields = ["partner", "key_prefix", "scope", "created_at", "last_used_at", "revoked_at"]
    list_display = [
        "key_prefix", "partner", "name", "scope", "key_status", "created_at", "last_used_at", "revoked_at",
    ]  # fmt: skip
    list_filter = [RevokedFilter, "scope", "partner"]
    search_fields = ["prefix", "name", "partner__name"]
    list_select_related = ["partner"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="key")
    def key_prefix(self, api_key: PartnerApiKey) -> str:
        return str(api_key)

    # Words, not Django's boolean icons: a green tick beside a revoked key read as "fine".
    @admin.display(description="status", ordering="revoked_at")
    def key_status(self, api_key: PartnerApiKey) -> str:
        return "revoked" if api_key.is_revoked else "active"

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[PartnerApiKey]) -> None:
        now = timezone.now()
        revoked = 0
        for api_key in queryset:
            if services.partner_api_key_revoke(api_key=api_key, actor=audit_actor(request), now=now):
                revoked += 1
                self.log_change(request, api_key, f"Revoked API key {api_key}.")
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)


class WalletInline(admin.TabularInline):
    model = Wallet
    fields = ["role", "address", "verified_at", "replaced_at", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    # What a person needs first, so it fits a 1440 px screen: who, in what state, which Parsec account.
    list_display = [
        "external_id_label",
        "status",
        "parsec_customer_id",
        "partner",
        "email",
        "created_at",
        "id",
    ]
    list_display_links = ["external_id_label"]
    list_filter = ["status", "partner"]
    # Exact matches on ids; wallet addresses, including replaced ones.
    search_fields = ["=id", "external_id", "email", "=parsec_customer_id", "=wallets__address"]
    list_select_related = ["partner"]
    readonly_fields = [
        "id",
        "partner",
        "external_id",
        "parsec_customer_id",
        "fee_at_parsec",
        "provisioning_error",
        "provisioning_requested_at",
        "created_at",
        "updated_at",
        "status",  # moved by the disable / enable actions, which write the audit trail
    ]
    fields = ["id", "partner", "external_id", "email", "status", *readonly_fields[3:-1]]
    inlines = [WalletInline]
    actions = ["retry_provisioning", "disable", "enable", "cancel_all_orders"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # customers come from partners' API calls and web sign-in

    @admin.display(description="external id", ordering="external_id")
    def external_id_label(self, customer: Customer) -> str:
        # Wallet sign-ins make 49-character ids; the middle is cut here, whole on the detail page.
        return format_html(
            '<span title="{}">{}</span>', customer.external_id, short_text(customer.external_id, keep=24)
        )

    @admin.display(description="fee at Parsec")
    def fee_at_parsec(self, customer: Customer) -> str:
        if not customer.parsec_customer_id:
            return "set when provisioned"
        carries = ""
        if customer.parsec_fee_read_at is not None:
            carries = f" Parsec carries {_fee_text(customer.parsec_fee_bps)} (as it answered last)."
        if customer.fee_sync_refused_version == customer.partner.fee_version:
            return (
                f"Parsec refused the partner's current fee: {customer.fee_sync_error} It is not tried "
                f"again until the partner's fee changes.{carries}"
            )
        if customer.parsec_fee_version == customer.partner.fee_version:
            return f"the partner's current fee.{carries}"
        return f"a change of the partner's fee is on its way.{carries}"

    @admin.action(description="Retry provisioning at Parsec")
    def retry_provisioning(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        now = timezone.now()
        retried = 0
        for customer in queryset:
            if services.customer_provisioning_retry(customer=customer, now=now):
                retried += 1
                self.log_change(request, customer, "Queued provisioning at Parsec again.")
        self.message_user(request, f"Queued provisioning again for {retried} customer(s).", messages.SUCCESS)

    @admin.action(description="Disable the selected customers (no new orders)")
    def disable(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._set_status(request, queryset, Customer.Status.DISABLED, "Disabled")

    @admin.action(description="Enable the selected disabled customers")
    def enable(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._set_status(
            request, queryset.filter(status=Customer.Status.DISABLED), Customer.Status.ACTIVE, "Enabled"
        )

    def _set_status(self, request: HttpRequest, queryset: QuerySet[Customer], status: str, verb: str) -> None:
        actor, now = audit_actor(request), timezone.now()
        changed = 0
        for customer in queryset.exclude(status=status):
            services.customer_update(customer=customer, status=status, actor=actor, now=now)
            changed += 1
            self.log_change(request, customer, f"{verb} the customer.")
        self.message_user(request, f"{verb} {changed} customer(s).", messages.SUCCESS)

    @admin.action(description="Cancel all live orders of the selected customer (asks to confirm)")
    def cancel_all_orders(
        self, request: HttpRequest, queryset: QuerySet[Customer]
    ) -> HttpResponseRedirect | None:
        return _cancel_all_redirect(self, request, queryset, "customer")


class CurrentFilter(admin.SimpleListFilter):
    title = "current"
    parameter_name = "current"

    def lookups(self, request, model_admin):
        return [("yes", "Current"), ("no", "Replaced")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(replaced_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(replaced_at__isnull=False)
        return queryset


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ["address", "role", "customer", "partner", "verified_at", "replaced_at", "created_at"]
    list_filter = ["role", CurrentFilter, "customer__partner"]
    search_fields = ["=address", "=customer__id", "customer__external_id"]
    list_select_related = ["customer__partner"]
    readonly_fields = ["customer", "address", "role", "verified_at", "replaced_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a wallet is linked only by a verified signature or Parsec's onboarding

    @admin.display(ordering="customer__partner__name")
    def partner(self, wallet: Wallet) -> Partner:
        return wallet.customer.partner


@admin.register(WalletChallenge)
class WalletChallengeAdmin(admin.ModelAdmin):
    list_display = ["nonce", "address", "customer", "issued_at", "expires_at", "used_at"]
    list_filter = [("used_at", admin.EmptyFieldListFilter)]
    search_fields = ["=nonce", "=address", "=customer__id"]
    list_select_related = ["customer"]
    readonly_fields = ["nonce", "customer", "address", "message", "issued_at", "expires_at", "used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
