"""Trading halts: a stop of new orders for everyone, an exchange, a partner or a customer, with its reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from generations.store import GenerationBumpingQuerySet

EXCHANGE_MAX_LENGTH = 32


class TradingHalt(models.Model):
    """One halt, set by staff and lifted later; never deleted, so the history of stops stays."""

    class Scope(models.TextChoices):
        GLOBAL = "global", "Global (all trading)"
        EXCHANGE = "exchange", "Exchange"
        PARTNER = "partner", "Partner"
        CUSTOMER = "customer", "Customer"

    scope = models.CharField(max_length=16, choices=Scope.choices)
    exchange = models.CharField(max_length=EXCHANGE_MAX_LENGTH, blank=True, default="")
    partner = models.ForeignKey(
        "customers.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="trading_halts"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="trading_halts"
    )
    reason = models.CharField(max_length=500)
    set_at = models.DateTimeField()
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_by_label = models.CharField(max_length=150)  # "staff alice", "system: ..." (the audit actor's label)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lifted_by_label = models.CharField(max_length=150, blank=True, default="")

    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        ordering = ("-set_at", "-id")
        constraints = [
            # Each scope names exactly its own target.
            models.CheckConstraint(
                condition=(
                    Q(scope="global", exchange="", partner__isnull=True, customer__isnull=True)
                    | (Q(scope="exchange", partner__isnull=True, customer__isnull=True) & ~Q(exchange=""))
                    | Q(scope="partner", exchange="", partner__isnull=False, customer__isnull=True)
                    | Q(scope="customer", exchange="", partner__isnull=True, customer__isnull=False)
                ),
                name="halts_halt_target_matches_scope",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="halts_halt_reason_required"),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | Q(lifted_at__gte=models.F("set_at")),
                name="halts_halt_lifted_after_set",
            ),
            # At most one active halt per scope target.
            models.UniqueConstraint(
                fields=["scope"],
                condition=Q(scope="global", lifted_at__isnull=True),
                name="halts_one_active_global",
            ),
            models.UniqueConstraint(
                fields=["exchange"],
                condition=Q(scope="exchange", lifted_at__isnull=True),
                name="halts_one_active_per_exchange",
            ),
            models.UniqueConstraint(
                fields=["partner"],
                condition=Q(scope="partner", lifted_at__isnull=True),
                name="halts_one_active_per_partner",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(scope="customer", lifted_at__isnull=True),
                name="halts_one_active_per_customer",
            ),
        ]
        indexes = [
            # Order intake reads the active halts on every create: a handful of rows at most.
            models.Index(fields=["scope"], condition=Q(lifted_at__isnull=True), name="halts_active"),
        ]

    def __str__(self) -> str:
        state = "active" if self.is_active else "lifted"
        return f"halt of {self.target_text()} ({state})"

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None

    def target_text(self) -> str:
        """The scope in words, as a refusal names it: "all trading", "exchange kalshi", "partner Acme"."""
        if self.scope == self.Scope.GLOBAL:
            return "all trading"
        if self.scope == self.Scope.EXCHANGE:
            return f"exchange {self.exchange}"
        if self.scope == self.Scope.PARTNER:
            return f"partner {self.partner}"
        return f"customer {self.customer_id}"
