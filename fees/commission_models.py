"""Commissions (what a partner earns per fill, and reversals of it) and the payouts that group them.

They live in fees, beside the ledger they derive from, so that a commission is written in the same
transaction as the ledger's `partner_share` row, and so that the rules tying commissions to payouts (a
commission in at most one live payout, one payout per partner and period) are database constraints.
Their lifecycle services (release, reversal, payout runs) live in `affiliates`, to the right of orders.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from customers.models import BPS_MAX, Customer, Partner


class Payout(models.Model):
    """One partner's payout for one period (a calendar month): pending, then paid or cancelled, final."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        PAID = "paid", "Paid"
        CANCELLED = "cancelled", "Cancelled"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="payouts")
    period = models.DateField()  # the first day of the month it pays for
    amount = models.BigIntegerField()  # USDC base units: the sum of its commissions, clawbacks included
    commission_count = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    payout_address = models.CharField(max_length=42, blank=True, default="")  # as it was when created
    reference = models.CharField(max_length=200, blank=True, default="")  # tx hash or bank reference
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.CharField(max_length=150, blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            # A run for a period creates each partner's payout once, however many runs race.
            models.UniqueConstraint(
                fields=["partner", "period"],
                condition=~Q(state="cancelled"),
                name="fees_payout_once_per_partner_period",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="fees_payout_amount_positive"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "paid", "cancelled"]), name="fees_payout_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state="paid") | (Q(paid_at__isnull=False) & ~Q(reference="")),
                name="fees_payout_paid_has_reference",
            ),
        ]
        indexes = [models.Index(fields=["partner", "-created_at", "-id"], name="fees_payout_partner")]

    def __str__(self) -> str:
        return f"payout {self.pk} {self.partner_id} {self.period:%Y-%m} {self.state}"


class Commission(models.Model):
    """A partner's commission on one fill (kind `commission`, from the ledger's partner_share row), or
    an admin's reversal of one (kind `reversal`, the negative of it). Amounts are USDC base units.

    State: pending (booked) -> available (after the hold) -> paid (its payout was paid). A commission in
    a pending payout is still `available`, with `payout` set; cancelling the payout clears it.
    """

    class Kind(models.TextChoices):
        COMMISSION = "commission", "Commission"
        REVERSAL = "reversal", "Reversal"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        AVAILABLE = "available", "Available"
        PAID = "paid", "Paid"

    # Who earns. No index of its own: the composite indexes below all start with the partner.
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="commissions", db_index=False)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="commissions")
    fee_authorization = models.ForeignKey(
        "fees.FeeAuthorization", on_delete=models.PROTECT, related_name="commissions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.COMMISSION)
    # The ledger row it was booked from (commissions only): one commission per (fill, partner).
    ledger_entry = models.OneToOneField(
        "fees.FeeLedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="commission"
    )
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversal"
    )
    fill_id = models.CharField(max_length=128)
    exchange = models.CharField(max_length=32)
    share_bps = models.PositiveIntegerField()  # the terms snapshotted on the fee authorization
    amount = models.BigIntegerField()  # USDC base units; negative for a reversal
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    available_at = models.DateTimeField()  # when the hold ends
    payout = models.ForeignKey(
        Payout, on_delete=models.PROTECT, null=True, blank=True, related_name="commissions"
    )
    reason = models.CharField(max_length=500, blank=True, default="")  # a reversal's reason
    created_by = models.CharField(max_length=150, blank=True, default="")  # a reversal's staff user
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="commission") & Q(amount__gt=0) & Q(ledger_entry__isnull=False))
                | (Q(kind="reversal") & Q(amount__lt=0) & Q(reverses__isnull=False) & ~Q(reason="")),
                name="fees_commission_kind_shape",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "available", "paid"]), name="fees_commission_state_valid"
            ),
            models.CheckConstraint(
                condition=~Q(state="paid") | Q(payout__isnull=False), name="fees_commission_paid_has_payout"
            ),
            models.CheckConstraint(
                condition=Q(share_bps__lte=BPS_MAX), name="fees_commission_share_bps_range"
            ),
        ]
        indexes = [
            # The payout run: a partner's available commissions not yet in a payout.
            models.Index(
                fields=["partner", "created_at"],
                condition=Q(state="available", payout__isnull=True),
                name="fees_commission_payable",
            ),
            # The release of held commissions.
            models.Index(fields=["available_at"], condition=Q(state="pending"), name="fees_commission_held"),
            models.Index(fields=["partner", "-created_at", "-id"], name="fees_commission_partner"),
            models.Index(fields=["partner", "customer"], name="fees_commission_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} to {self.partner_id} ({self.state})"
