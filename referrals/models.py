"""Referral codes, their daily click counters, attributions of customers to partners, and payout details.

This app sits between customers and fees: the fee ledger reads an attribution's frozen terms when it
requests a fee, so nothing here may import fees or anything to its right.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from customers.addresses import ADDRESS_REGEX, validate_checksummed_address
from customers.models import BPS_MAX, Customer, Partner

# Lowercase letters, digits and inner hyphens, 3 to 32 characters: fits in a link and reads aloud.
CODE_REGEX = r"^[a-z0-9](?:[a-z0-9-]{1,30})[a-z0-9]$"
CODE_MAX_LENGTH = 32


class ReferralCode(models.Model):
    """A partner's referral code and the terms it offers: a share of the builder's fee income."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="referral_codes")
    code = models.CharField(max_length=CODE_MAX_LENGTH, unique=True)  # stored lowercase
    label = models.CharField(max_length=200, blank=True, default="")  # the partner's campaign name
    # The share of the builder's fee income on the customers this code brings; frozen into each
    # attribution when it is made, so a later change never moves what was promised.
    revenue_share_bps = models.PositiveIntegerField(validators=[MaxValueValidator(BPS_MAX)])
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=CODE_REGEX), name="referrals_code_shape"),
            models.CheckConstraint(
                condition=Q(revenue_share_bps__lte=BPS_MAX), name="referrals_code_share_bps_range"
            ),
        ]
        indexes = [models.Index(fields=["partner", "-created_at", "-id"], name="referrals_code_partner")]

    def __str__(self) -> str:
        return self.code


class ReferralClickDay(models.Model):
    """Clicks on referral links per code and UTC day; nothing about the visitor is kept.

    Links with an unknown code count under `code=None`, those with an inactive code under the code
    with outcome `inactive`.
    """

    class Outcome(models.TextChoices):
        REMEMBERED = "remembered", "Remembered"
        INACTIVE = "inactive", "Inactive code"
        UNKNOWN = "unknown", "Unknown code"

    code = models.ForeignKey(
        ReferralCode, on_delete=models.CASCADE, null=True, blank=True, related_name="click_days"
    )
    day = models.DateField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    clicks = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ("-day",)
        constraints = [
            models.UniqueConstraint(
                fields=["code", "day", "outcome"], condition=Q(code__isnull=False), name="referrals_click_day"
            ),
            models.UniqueConstraint(
                fields=["day", "outcome"], condition=Q(code__isnull=True), name="referrals_click_day_unknown"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["remembered", "inactive", "unknown"]),
                name="referrals_click_outcome_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code or 'unknown'} {self.day} {self.outcome}: {self.clicks}"


class Referral(models.Model):
    """A customer brought by a partner: first touch, never re-attributed, terms frozen at that moment.

    Attribution is not ownership: `customer.partner` still operates the account; this partner only
    earns from it. A self-referral keeps the row, flagged, and earns nothing.
    """

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="referral")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="referrals")
    code = models.ForeignKey(ReferralCode, on_delete=models.PROTECT, related_name="referrals")
    revenue_share_bps = models.PositiveIntegerField(validators=[MaxValueValidator(BPS_MAX)])  # frozen
    signer = models.CharField(max_length=42)  # the wallet the customer signed in with
    created_at = models.DateTimeField()  # when the attribution was made (the first sign-in)
    flagged_reason = models.CharField(max_length=200, blank=True, default="")  # self-referral: why
    flagged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(revenue_share_bps__lte=BPS_MAX), name="referrals_referral_share_bps_range"
            ),
            models.CheckConstraint(
                condition=Q(flagged_reason="", flagged_at__isnull=True)
                | (~Q(flagged_reason="") & Q(flagged_at__isnull=False)),
                name="referrals_referral_flag_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["partner", "-created_at", "-id"], name="referrals_referral_partner"),
            models.Index(fields=["code"], name="referrals_referral_code"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} via {self.code_id}"

    @property
    def is_flagged(self) -> bool:
        return bool(self.flagged_reason)


class AffiliateProfile(models.Model):
    """A partner's affiliate terms and how it is paid: the highest share its codes may offer, and the
    EVM payout address (or a note saying how it is paid off-chain)."""

    partner = models.OneToOneField(Partner, on_delete=models.CASCADE, related_name="affiliate_profile")
    # The most a referral code of this partner may offer; null means the partner's revenue_share_bps.
    max_revenue_share_bps = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(BPS_MAX)]
    )
    payout_address = models.CharField(
        max_length=42, blank=True, default="", validators=[validate_checksummed_address]
    )
    payout_note = models.CharField(max_length=500, blank=True, default="")  # e.g. "wire, IBAN on file"
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(payout_address="") | Q(payout_address__regex=ADDRESS_REGEX),
                name="referrals_profile_payout_address_shape",
            ),
            models.CheckConstraint(
                condition=Q(max_revenue_share_bps__isnull=True) | Q(max_revenue_share_bps__lte=BPS_MAX),
                name="referrals_profile_max_share_range",
            ),
        ]

    def __str__(self) -> str:
        return f"affiliate profile of {self.partner}"


class PayoutDetailsChange(models.Model):
    """Append-only: every change of a partner's payout address or note, with who made it and when."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="payout_details_changes")
    old_address = models.CharField(max_length=42, blank=True, default="")
    new_address = models.CharField(max_length=42, blank=True, default="")
    old_note = models.CharField(max_length=500, blank=True, default="")
    new_note = models.CharField(max_length=500, blank=True, default="")
    changed_by = models.CharField(max_length=150)  # a staff username, or "partner api"
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ("-changed_at", "-id")

    def __str__(self) -> str:
        return f"{self.partner}: {self.old_address or '-'} -> {self.new_address or '-'}"
