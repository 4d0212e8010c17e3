"""Admin for trading halts: adding one sets it (through the service), "lift" ends it; none is deleted."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from audit.services import audit_actor
from halts import services
from halts.errors import HaltError
from halts.models import TradingHalt
from halts.selectors import trading_halts_active
from parsec.contract import EXCHANGES


class TradingHaltForm(forms.ModelForm):
    exchange = forms.ChoiceField(
        choices=[("", "—"), *((name, name) for name in EXCHANGES)],
        required=False,
        help_text="Only for an exchange halt.",
    )

    class Meta:
        model = TradingHalt
        fields = ["scope", "exchange", "partner", "customer", "reason"]
        widgets = {"reason": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "reason": "Shown to every partner whose order is refused, and kept in the audit trail.",
            "partner": "Only for a partner halt.",
            "customer": "Only for a customer halt.",
        }

    def clean(self) -> dict:
        data = super().clean()
        problem = services.trading_halt_problem(
            scope=data.get("scope", ""),
            exchange=data.get("exchange", ""),
            partner=data.get("partner"),
            customer=data.get("customer"),
        )
        if problem:
            raise forms.ValidationError(problem)
        target = {
            "exchange": data.get("exchange", ""),
            "partner": data.get("partner"),
            "customer": data.get("customer"),
        }
        if trading_halts_active().filter(scope=data["scope"], **target).exists():
            raise forms.ValidationError("This is halted already: lift that halt first to set another.")
        return data


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("lifted", "Lifted")]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.filter(lifted_at__isnull=True)
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        return queryset


@admin.register(TradingHalt)
class TradingHaltAdmin(admin.ModelAdmin):
    form = TradingHaltForm
    list_display = [
        "scope",
        "target",
        "state",
        "reason",
        "set_at",
        "set_by_label",
        "lifted_at",
        "lifted_by_label",
    ]
    list_filter = [ActiveFilter, "scope"]
    search_fields = ["reason", "exchange", "partner__name", "=customer__id", "customer__external_id"]
    list_select_related = ["partner", "customer"]
    raw_id_fields = ["customer"]
    readonly_fields = ["set_at", "set_by_label", "lifted_at", "lifted_by_label"]
    actions = ["lift"]

    def get_fields(self, request: HttpRequest, obj: TradingHalt | None = None) -> list[str]:
        if obj is None:
            return ["scope", "exchange", "partner", "customer", "reason"]
        return ["scope", "exchange", "partner", "customer", "reason", *self.readonly_fields]

    def has_change_permission(self, request: HttpRequest, obj: TradingHalt | None = None) -> bool:
        return False  # a halt is set and lifted, never edited: its reason is what partners were told

    def has_delete_permission(self, request: HttpRequest, obj: TradingHalt | None = None) -> bool:
        return False

    @admin.display(description="target")
    def target(self, halt: TradingHalt) -> str:
        return halt.target_text()

    @admin.display(description="state", ordering="lifted_at")
    def state(self, halt: TradingHalt) -> str:
        return "active" if halt.is_active else "lifted"

    def save_model(self, request: HttpRequest, obj: TradingHalt, form, change: bool) -> None:
        # The service writes the row and its audit entry; a halt set meanwhile by someone else is said.
        try:
            halt = services.trading_halt_set(
                scope=obj.scope,
                exchange=obj.exchange,
                partner=obj.partner,
                customer=obj.customer,
                reason=obj.reason,
                actor=audit_actor(request),
                now=timezone.now(),
            )
        except HaltError as error:
            # Raised after validation only in a race with another admin; the existing halt stands.
            self.message_user(request, error.message, messages.ERROR)
            obj.pk = trading_halts_active().filter(scope=obj.scope).values_list("pk", flat=True).first()
            return
        obj.pk, obj.set_at, obj.set_by_label = halt.pk, halt.set_at, halt.set_by_label

    @admin.action(description="Lift the selected halts (trading resumes at once)")
    def lift(self, request: HttpRequest, queryset: QuerySet[TradingHalt]) -> None:
        actor, now = audit_actor(request), timezone.now()
        lifted = sum(services.trading_halt_lift(halt=halt, actor=actor, now=now) for halt in queryset)
        self.message_user(request, f"Lifted {lifted} halt(s).", messages.SUCCESS)
