"""The commission lifecycle and payouts: release after the hold, reversals and clawbacks, payout runs,
marking a payout paid or cancelling it. Each write is one transaction; state moves are conditional."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum

from builder_platform.failures import DomainError
from customers.models import Partner
from fees.commission_models import Commission, Payout
from fees.money import USDC_BASE_UNITS
from referrals.models import AffiliateProfile

logger = logging.getLogger(__name__)


class AffiliateError(DomainError):
    """A refusal of a commission or payout change (a paid payout, a commission reversed twice)."""


# --- Periods -------------------------------------------------------------------------------------------


def period_start(day: date) -> date:
    return day.replace(day=1)


def period_end(period: date) -> datetime:
    """The first instant after the month that starts on `period` (UTC)."""
    year, month = (period.year + 1, 1) if period.month == 12 else (period.year, period.month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def previous_period(now: datetime) -> date:
    first = now.astimezone(UTC).date().replace(day=1)
    return (
        first.replace(year=first.year - 1, month=12)
        if first.month == 1
        else first.replace(month=first.month - 1)
    )


def period_parse(text: str) -> date:
    """`YYYY-MM` as the first day of that month; AffiliateError (400) otherwise."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        return date(int(year), int(month), 1)
    except (ValueError, AttributeError):
        raise AffiliateError(
            "A period is a month written YYYY-MM, e.g. 2026-03.", code="validation_error", field="period"
        ) from None


# --- Commissions ---------------------------------------------------------------------------------------


def commissions_release(*, now: datetime) -> int:
    """Pending commissions whose hold has ended become available; answers how many did."""
    return Commission.objects.filter(state=Commission.State.PENDING, available_at__lte=now).update(
        state=Commission.State.AVAILABLE
    )


@transaction.atomic
def commission_reverse(*, commission: Commission, reason: str, reversed_by: str, now: datetime) -> Commission:
    """Book the negative of a commission, with the reason and who did it.

    An unpaid commission's reversal shares its state and hold, so the two always travel (and are paid)
    together and net to zero. A paid commission's reversal is available at once: a clawback, taken
    from the partner's next payout. A commission in a payout still pending cannot be reversed until
    that payout is cancelled (its amount is fixed).
    """
    reason = reason.strip()
    if not reason:
        raise AffiliateError("Say why the commission is reversed.", code="validation_error", field="reason")
    original = Commission.objects.select_for_update().get(pk=commission.pk)
    if original.kind != Commission.Kind.COMMISSION:
        raise AffiliateError(
            "A reversal cannot itself be reversed.", code="commission_not_reversible", status=409
        )
    if Commission.objects.filter(reverses=original).exists():
        raise AffiliateError(
            "This commission has already been reversed.", code="commission_already_reversed", status=409
        )
    if original.payout_id is not None and original.state != Commission.State.PAID:
        raise AffiliateError(
            f"This commission is in payout {original.payout_id}, still pending: cancel that payout first.",
            code="commission_in_pending_payout",
            status=409,
        )
    paid = original.state == Commission.State.PAID
    return Commission.objects.create(
        partner_id=original.partner_id,
        customer_id=original.customer_id,
        fee_authorization_id=original.fee_authorization_id,
        kind=Commission.Kind.REVERSAL,
        reverses=original,
        fill_id=original.fill_id,
        exchange=original.exchange,
        share_bps=original.share_bps,
        amount=-original.amount,
        state=Commission.State.AVAILABLE if paid else original.state,
        available_at=now if paid else original.available_at,
        reason=reason[:500],
        created_by=reversed_by[:150],
        created_at=now,
    )


# --- Payout runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayoutRunResult:
    period: date
    created: list[Payout]
    carried_over: int  # partners whose sum stayed below the minimum (or was negative)
    already_made: int  # partners that already had this period's payout


def _payable(*, period: date):
    return Commission.objects.filter(
        state=Commission.State.AVAILABLE, payout__isnull=True, created_at__lt=period_end(period)
    )


class _RolledBack(Exception):
    pass


def payout_run(*, period: date, now: datetime, minimum: int | None = None) -> PayoutRunResult:
    """One payout per partner for a closed period: its available commissions not yet paid (booked before
    the period ended, carried over from earlier ones included), clawbacks subtracted, if the total
    reaches PAYOUT_MINIMUM_USDC; below it, everything carries over to the next run.

    Idempotent and safe to run concurrently: each partner's payout is inserted under the database's
    one-payout-per-partner-and-period constraint, and its commissions are claimed by a conditional
    update in the same transaction, so a racing run either finds the payout made or claims nothing.
    """
    if period != period_start(period):
        raise AffiliateError(
            "A payout period starts on the first of a month.", code="validation_error", field="period"
        )
    if period_end(period) > now:
        raise AffiliateError(
            f"The period {period:%Y-%m} is not over yet; a payout run is made for a closed month.",
            code="period_not_closed",
            status=409,
            field="period",
        )
    minimum = settings.PAYOUT_MINIMUM_USDC * USDC_BASE_UNITS if minimum is None else minimum
    commissions_release(now=now)
    totals = (
        _payable(period=period)
        .values("partner_id")
        .annotate(total=Sum("amount"), count=Count("id"))
        .order_by("partner_id")
    )
    addresses = dict(AffiliateProfile.objects.values_list("partner_id", "payout_address"))
    existing = set(
        Payout.objects.filter(period=period)
        .exclude(state=Payout.State.CANCELLED)
        .values_list("partner_id", flat=True)
    )
    created: list[Payout] = []
    carried = already = 0
    for row in totals:
        partner_id = row["partner_id"]
        if partner_id in existing:
            already += 1
            continue
        if row["total"] < minimum:
            carried += 1
            continue
        try:
            with transaction.atomic():
                payout = Payout.objects.create(
                    partner_id=partner_id,
                    period=period,
                    amount=row["total"],
                    commission_count=row["count"],
                    payout_address=addresses.get(partner_id, ""),
                    created_at=now,
                )
                _payable(period=period).filter(partner_id=partner_id).update(payout=payout)
                claimed = Commission.objects.filter(payout=payout).aggregate(
                    total=Sum("amount"), count=Count("id")
                )
                if claimed["total"] is None or claimed["total"] < minimum:
                    raise _RolledBack  # a racing run (another period's) claimed them first
                if (claimed["total"], claimed["count"]) != (payout.amount, payout.commission_count):
                    payout.amount, payout.commission_count = claimed["total"], claimed["count"]
                    payout.save(update_fields=["amount", "commission_count"])
        except IntegrityError:
            already += 1  # a racing run for this period made it
            continue
        except _RolledBack:
            carried += 1
            continue
        created.append(payout)
    logger.info(
        "payout run %s: %d payouts, %d carried over, %d already made",
        f"{period:%Y-%m}",
        len(created),
        carried,
        already,
    )
    return PayoutRunResult(period=period, created=created, carried_over=carried, already_made=already)


def _payout_refusal(payout_id: int) -> AffiliateError:
    state = Payout.objects.filter(pk=payout_id).values_list("state", flat=True).first()
    return AffiliateError(
        f"This payout is {state}; only a pending payout can be marked paid or cancelled, "
        "and a paid one never changes.",
        code="payout_not_pending",
        status=409,
    )


@transaction.atomic
def payout_mark_paid(*, payout: Payout, reference: str, paid_by: str, now: datetime) -> Payout:
    """Record that a pending payout was paid (a transaction hash or a bank reference): its commissions
    become paid. The one place a payout is paid (where a `payout.paid` event belongs)."""
    reference = reference.strip()
    if not reference:
        raise AffiliateError(
            "Give the transaction hash or payment reference.", code="validation_error", field="reference"
        )
    changed = Payout.objects.filter(pk=payout.pk, state=Payout.State.PENDING).update(
        state=Payout.State.PAID, reference=reference[:200], paid_at=now, paid_by=paid_by[:150]
    )
    if changed != 1:
        raise _payout_refusal(payout.pk)
    Commission.objects.filter(payout_id=payout.pk).update(state=Commission.State.PAID)
    return Payout.objects.get(pk=payout.pk)


@transaction.atomic
def payout_cancel(*, payout: Payout, cancelled_by: str, now: datetime) -> Payout:
    """Cancel a pending payout: its commissions are available again for the next run."""
    changed = Payout.objects.filter(pk=payout.pk, state=Payout.State.PENDING).update(
        state=Payout.State.CANCELLED, cancelled_at=now, cancelled_by=cancelled_by[:150]
    )
    if changed != 1:
        raise _payout_refusal(payout.pk)
    Commission.objects.filter(payout_id=payout.pk).update(payout=None)
    return Payout.objects.get(pk=payout.pk)


def partner_owed(*, partner: Partner) -> dict[str, int]:
    """What the partner has pending, available (unpaid and in no payout), in pending payouts and paid."""
    rows = Commission.objects.filter(partner=partner).aggregate(
        pending=Sum("amount", filter=Q(state=Commission.State.PENDING)),
        available=Sum("amount", filter=Q(state=Commission.State.AVAILABLE, payout__isnull=True)),
        in_payout=Sum("amount", filter=Q(state=Commission.State.AVAILABLE, payout__isnull=False)),
        paid=Sum("amount", filter=Q(state=Commission.State.PAID)),
    )
    return {key: int(value or 0) for key, value in rows.items()}
