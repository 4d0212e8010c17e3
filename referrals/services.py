"""Referral writes: codes, clicks, attribution at first sign-in (with self-referral checks), the terms the
fee ledger snapshots, and payout details."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from audit.models import AuditAction
from audit.services import Actor, audit_record
from builder_platform.failures import DomainError
from customers.addresses import InvalidAddress, checksum_address
from customers.models import BPS_MAX, Customer, Partner, Wallet
from referrals.models import (
    CODE_REGEX,
    AffiliateProfile,
    PayoutDetailsChange,
    Referral,
    ReferralClickDay,
    ReferralCode,
)

CODE_PATTERN = re.compile(CODE_REGEX)
GENERATED_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
GENERATED_CODE_LENGTH = 8


class ReferralError(DomainError):
    """A refusal of a referral write (a code taken, a share above what the partner may offer)."""


# --- Codes ---------------------------------------------------------------------------------------------


def referral_code_normalize(raw: object) -> str | None:
    """The stored form of a code as typed in a link (case-insensitive), or None if it cannot be one."""
    if not isinstance(raw, str):
        return None
    code = raw.strip().lower()
    return code if CODE_PATTERN.fullmatch(code) else None


def partner_max_revenue_share_bps(partner: Partner) -> int:
    """The most a code of this partner may offer: the admin's ceiling, else the partner's own share."""
    profile = AffiliateProfile.objects.filter(partner=partner).first()
    if profile is not None and profile.max_revenue_share_bps is not None:
        return profile.max_revenue_share_bps
    return partner.revenue_share_bps


def _generated_code() -> str:
    return "".join(secrets.choice(GENERATED_CODE_ALPHABET) for _ in range(GENERATED_CODE_LENGTH))


def referral_code_create(
    *,
    partner: Partner,
    code: str | None = None,
    label: str = "",
    revenue_share_bps: int | None = None,
    now: datetime,
) -> ReferralCode:
    """A new code for the partner; its terms default to the partner's revenue share.

    Raises ReferralError: 400 for a malformed code or a share above what the admin allows the partner,
    409 referral_code_taken when another code (anyone's) has that text.
    """
    maximum = partner_max_revenue_share_bps(partner)
    if revenue_share_bps is None:
        revenue_share_bps = min(partner.revenue_share_bps, maximum)
    if isinstance(revenue_share_bps, bool) or not 0 <= revenue_share_bps <= BPS_MAX:
        raise ReferralError(
            "revenue_share_bps must be a whole number from 0 to 10000.",
            code="validation_error",
            field="revenue_share_bps",
        )
    if revenue_share_bps > maximum:
        raise ReferralError(
            f"A code of yours may offer at most {maximum} bps; ask us to raise it if you need more.",
            code="revenue_share_above_maximum",
            field="revenue_share_bps",
        )
    if code is not None:
        normalized = referral_code_normalize(code)
        if normalized is None:
            raise ReferralError(
                "A code is 3 to 32 lowercase letters, digits or inner hyphens (e.g. summer-2026).",
                code="validation_error",
                field="code",
            )
        candidates = [normalized]
    else:
        candidates = [_generated_code() for _ in range(5)]
    for candidate in candidates:
        try:
            with transaction.atomic():
                return ReferralCode.objects.create(
                    partner=partner,
                    code=candidate,
                    label=label,
                    revenue_share_bps=revenue_share_bps,
                    created_at=now,
                )
        except IntegrityError:
            continue
    raise ReferralError(
        "This code is already taken; choose another one.",
        code="referral_code_taken",
        status=409,
        field="code",
    )


@transaction.atomic
def referral_code_update(
    *, referral_code: ReferralCode, label: str | None = None, active: bool | None = None
) -> ReferralCode:
    """Change a code's label or switch it on or off; its terms never change (attributions froze them)."""
    fields = []
    if label is not None:
        referral_code.label = label
        fields.append("label")
    if active is not None:
        referral_code.active = active
        fields.append("active")
    if fields:
        referral_code.save(update_fields=fields)
    return referral_code


def referral_code_usable(raw: object) -> ReferralCode | None:
    """The active code this text names, or None (unknown, inactive, malformed)."""
    code = referral_code_normalize(raw)
    if code is None:
        return None
    return ReferralCode.objects.filter(code=code, active=True).select_related("partner").first()


def referral_click_record(*, raw_code: object, now: datetime) -> ReferralCode | None:
    """Count one click on a referral link and answer the code to remember (None: ignore it silently)."""
    code = referral_code_normalize(raw_code)
    found = ReferralCode.objects.filter(code=code).first() if code is not None else None
    if found is None:
        outcome = ReferralClickDay.Outcome.UNKNOWN
    elif not found.active:
        outcome = ReferralClickDay.Outcome.INACTIVE
    else:
        outcome = ReferralClickDay.Outcome.REMEMBERED
    day = now.date()
    counter = ReferralClickDay.objects.filter(code=found, day=day, outcome=outcome)
    if counter.update(clicks=F("clicks") + 1) == 0:
        try:
            with transaction.atomic():
                ReferralClickDay.objects.create(code=found, day=day, outcome=outcome, clicks=1)
        except IntegrityError:  # another click created today's row a moment ago
            counter.update(clicks=F("clicks") + 1)
    return found if outcome == ReferralClickDay.Outcome.REMEMBERED else None


# --- Attribution -----------------------------------------------------------------------------------------


def self_referral_reason(*, partner: Partner, addresses: set[str]) -> str:
    """Why these wallets belong to the partner itself ('' when they do not).

    Its own addresses are its on-chain affiliate address, its payout address, and every wallet (signer or
    payer, current or former) of a customer it operates through the API.
    """
    addresses = {address for address in addresses if address}
    if not addresses:
        return ""
    if partner.affiliate_address and partner.affiliate_address in addresses:
        return f"The wallet {partner.affiliate_address} is the partner's affiliate address."
    profile = AffiliateProfile.objects.filter(partner=partner).first()
    if profile is not None and profile.payout_address and profile.payout_address in addresses:
        return f"The wallet {profile.payout_address} is the partner's payout address."
    owned = (
        Wallet.objects.filter(customer__partner=partner, address__in=addresses)
        .values_list("address", flat=True)
        .first()
    )
    if owned is not None:
        return f"The wallet {owned} belongs to a customer the partner operates through the API."
    return ""


@transaction.atomic
def referral_attribute(
    *, customer: Customer, raw_code: object, signer: str, now: datetime
) -> Referral | None:
    """Attribute a customer at its first sign-in to the partner whose valid code it remembered.

    First touch wins: a customer already attributed keeps its partner (None is answered, nothing
    changes). An unknown or inactive code attributes nothing. A self-referral is attributed, flagged
    with the reason, and earns nothing.
    """
    referral_code = referral_code_usable(raw_code)
    if referral_code is None or Referral.objects.filter(customer=customer).exists():
        return None
    partner = referral_code.partner
    if partner.pk == customer.partner_id:
        return None  # a partner's own customer is earned on as its own, not as a referral
    reason = self_referral_reason(partner=partner, addresses={signer})
    try:
        with transaction.atomic():
            return Referral.objects.create(
                customer=customer,
                partner=partner,
                code=referral_code,
                revenue_share_bps=referral_code.revenue_share_bps,
                signer=signer,
                created_at=now,
                flagged_reason=reason,
                flagged_at=now if reason else None,
            )
    except IntegrityError:  # a concurrent first sign-in attributed it: first touch wins
        return None


@dataclass(frozen=True)
class CommissionTerms:
    """Who earns on a fee-bearing order, and what share of the builder's fee income."""

    beneficiary_id: int | None
    share_bps: int


NO_COMMISSION = CommissionTerms(beneficiary_id=None, share_bps=0)


def commission_terms(
    *, partner: Partner, customer: Customer, signer: str, payer: str, now: datetime
) -> CommissionTerms:
    """The terms a new fee authorization snapshots.

    A referred customer earns its referring partner the attribution's frozen share (nothing when the
    signer or payer turns out to be the partner's own: the attribution is then flagged, if it was not).
    A partner's own API customer earns it its revenue share, as before, unless the partner is itself the
    order's on-chain affiliate (the escrow pays it directly).
    """
    referral = Referral.objects.select_related("partner").filter(customer=customer).first()
    if referral is not None:
        if referral.is_flagged:
            return NO_COMMISSION
        reason = self_referral_reason(partner=referral.partner, addresses={signer, payer})
        if reason:
            Referral.objects.filter(pk=referral.pk, flagged_reason="").update(
                flagged_reason=reason, flagged_at=now
            )
            return NO_COMMISSION
        return CommissionTerms(beneficiary_id=referral.partner_id, share_bps=referral.revenue_share_bps)
    if partner.affiliate_address or not partner.revenue_share_bps:
        return NO_COMMISSION
    return CommissionTerms(beneficiary_id=partner.pk, share_bps=partner.revenue_share_bps)


# --- Payout details --------------------------------------------------------------------------------------


@transaction.atomic
def payout_details_set(
    *,
    partner: Partner,
    payout_address: str,
    payout_note: str,
    changed_by: str,
    now: datetime,
    actor: Actor | None = None,
) -> AffiliateProfile:
    """Set where the partner is paid; every change is recorded with who made it and when.

    With an `actor` the change also goes to the audit trail, in the same transaction: where money is
    sent is as much a control as a fee or a key.
    """
    address = ""
    if payout_address:
        try:
            address = checksum_address(payout_address)
        except InvalidAddress as error:
            raise ReferralError(str(error), code="validation_error", field="payout_address") from None
    profile, _ = AffiliateProfile.objects.select_for_update().get_or_create(partner=partner)
    if (profile.payout_address, profile.payout_note) == (address, payout_note):
        return profile
    PayoutDetailsChange.objects.create(
        partner=partner,
        old_address=profile.payout_address,
        new_address=address,
        old_note=profile.payout_note,
        new_note=payout_note,
        changed_by=changed_by,
        changed_at=now,
    )
    if actor is not None:
        audit_record(
            action=AuditAction.PAYOUT_DETAILS_CHANGED,
            actor=actor,
            target_type="partner",
            target_id=partner.pk,
            partner_id=partner.pk,
            summary=f"Payout details of {partner.name} changed.",
            before={"payout_address": profile.payout_address, "payout_note": profile.payout_note},
            after={"payout_address": address, "payout_note": payout_note},
            now=now,
        )
    profile.payout_address = address
    profile.payout_note = payout_note
    profile.updated_at = now
    profile.save(update_fields=["payout_address", "payout_note", "updated_at"])
    return profile
