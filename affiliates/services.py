"""The commission lifecycle and payouts: release after the hold, reversals and clawbacks, payout runs,
marking a payout paid or cancelling it. Each write is one transaction; state moves are conditional."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery, Sum

from audit.models import AuditAction
from audit.services import Actor, audit_record, audit_record_many
from builder_platform.failures import DomainError
from customers.models import Partner
from events.services import event_record
from fees.commission_models import Commission, Payout
from fees.commission_serializers import PayoutSerializer
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
def commission_reverse(
    *, commission: Commission, reason: str, reversed_by: str, now: datetime, actor: Actor | None = None
) -> Commission:
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
    reversal = Commission.objects.create(
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
    audit_record(
        action=AuditAction.COMMISSION_REVERSED,
        actor=actor or Actor.system(f"reversed by {reversed_by}"),
        target_type="commission",
        target_id=original.pk,
        partner_id=original.partner_id,
        summary=f"Commission {original.pk} reversed ({-original.amount} base units): {reason}",
        before={"amount": original.amount, "state": original.state},
        after={"reversal_id": reversal.pk, "reversal_amount": reversal.amount, "state": reversal.state},
        now=now,
    )
    return reversal


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


@transaction.atomic
def payout_run(*, period: date, actor: Actor, now: datetime, minimum: int | None = None) -> PayoutRunResult:
    """One payout per partner for a closed period: its available commissions not yet paid (booked before
    the period ended, carried over from earlier ones included), clawbacks subtracted, if the total
    reaches PAYOUT_MINIMUM_USDC; below it, everything carries over to the next run.

    Set-based, in one transaction and a handful of queries whatever the number of partners. Idempotent
    and safe to run concurrently: the payouts are inserted under the database's one-payout-per-partner-
    and-period constraint, skipping conflicts (a racing run's insert waits for the other to commit, then
    skips), and commissions are claimed by a conditional update (`payout` still null), so a racing run of
    another period cannot claim them twice; a payout whose claim came out below the minimum is undone.
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
    totals = list(
        _payable(period=period)
        .values("partner_id")
        .annotate(total=Sum("amount"), count=Count("id"))
        .order_by("partner_id")
    )
    existing = set(
        Payout.objects.filter(period=period)
        .exclude(state=Payout.State.CANCELLED)
        .values_list("partner_id", flat=True)
    )
    eligible = [row for row in totals if row["partner_id"] not in existing and row["total"] >= minimum]
    carried = sum(1 for row in totals if row["partner_id"] not in existing and row["total"] < minimum)
    addresses = dict(
        AffiliateProfile.objects.filter(partner_id__in=[row["partner_id"] for row in eligible]).values_list(
            "partner_id", "payout_address"
        )
    )
    # commission_count 0 marks this run's own new rows until their commissions are claimed: a racing
    # run's rows are either invisible (not committed) or already counted.
    Payout.objects.bulk_create(
        [
            Payout(
                partner_id=row["partner_id"],
                period=period,
                amount=row["total"],
                commission_count=0,
                payout_address=addresses.get(row["partner_id"], ""),
                created_at=now,
            )
            for row in eligible
        ],
        batch_size=1000,
        ignore_conflicts=True,
    )
    # No list of ids in here: the lookup per commission is the (partner, period) unique index's.
    ours = Payout.objects.filter(period=period, state=Payout.State.PENDING, commission_count=0)
    _payable(period=period).filter(partner_id__in=ours.values("partner_id")).update(
        payout=Subquery(ours.filter(partner_id=OuterRef("partner_id")).values("pk")[:1])
    )
    claimed = {
        row["payout"]: row
        for row in Commission.objects.filter(payout__in=ours)
        .values("payout")
        .annotate(total=Sum("amount"), count=Count("id"))
        .order_by()
    }
    made, undone = [], []
    for payout in ours:
        row = claimed.get(payout.pk)
        if row is None or row["total"] < minimum:
            undone.append(payout.pk)  # a racing run of another period claimed its commissions first
            continue
        payout.amount, payout.commission_count = row["total"], row["count"]
        made.append(payout)
    Payout.objects.bulk_update(made, ["amount", "commission_count"], batch_size=1000)
    if undone:
        Commission.objects.filter(payout_id__in=undone).update(payout=None)
        Payout.objects.filter(pk__in=undone).delete()
    # One audit row per payout made, in one INSERT: the run stays a handful of queries.
    audit_record_many(
        action=AuditAction.PAYOUT_CREATED,
        actor=actor,
        rows=[
            {
                "target_type": "payout",
                "target_id": payout.pk,
                "partner_id": payout.partner_id,
                "summary": f"Payout {payout.pk} for {period:%Y-%m}: {payout.amount} USDC base units, "
                f"{payout.commission_count} commission line(s).",
                "after": {
                    "state": Payout.State.PENDING,
                    "period": f"{period:%Y-%m}",
                    "amount": payout.amount,  # USDC base units
                    "commission_count": payout.commission_count,
                    "payout_address": payout.payout_address,
                },
            }
            for payout in made
        ],
        now=now,
    )
    already = len(totals) - carried - len(made) - len(undone)
    logger.info(
        "payout run %s: %d payouts, %d carried over, %d already made",
        f"{period:%Y-%m}",
        len(made),
        carried + len(undone),
        already,
    )
    made.sort(key=lambda payout: payout.partner_id)
    return PayoutRunResult(
        period=period, created=made, carried_over=carried + len(undone), already_made=already
    )


def _payout_refusal(payout_id: int) -> AffiliateError:
    state = Payout.objects.filter(pk=payout_id).values_list("state", flat=True).first()
    return AffiliateError(
        f"This payout is {state}; only a pending payout can be marked paid or cancelled, "
        "and a paid one never changes.",
        code="payout_not_pending",
        status=409,
    )


@transaction.atomic
def payout_mark_paid(*, payout: Payout, reference: str, paid_by: str, actor: Actor, now: datetime) -> Payout:
    """Record that a pending payout was paid (a transaction hash or a bank reference): its commissions
    become paid. The one place a payout is paid, and so where its `payout.paid` event is recorded."""
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
    paid = Payout.objects.get(pk=payout.pk)
    event_record(
        partner_id=paid.partner_id,
        type="payout.paid",
        object_type="payout",
        object_id=str(paid.pk),
        data=dict(PayoutSerializer(paid).data),
        now=now,
    )
    audit_record(
        action=AuditAction.PAYOUT_PAID,
        actor=actor,
        target_type="payout",
        target_id=paid.pk,
        partner_id=paid.partner_id,
        summary=f"Payout {paid.pk} of {paid.amount} USDC base units marked paid: {paid.reference}.",
        before={"state": Payout.State.PENDING},
        after={"state": Payout.State.PAID, "reference": paid.reference, "amount": paid.amount},
        now=now,
    )
    return paid


@transaction.atomic
def payout_cancel(*, payout: Payout, cancelled_by: str, actor: Actor, now: datetime) -> Payout:
    """Cancel a pending payout: its commissions are available again for the next run."""
    changed = Payout.objects.filter(pk=payout.pk, state=Payout.State.PENDING).update(
        state=Payout.State.CANCELLED, cancelled_at=now, cancelled_by=cancelled_by[:150]
    )
    if changed != 1:
        raise _payout_refusal(payout.pk)
    Commission.objects.filter(payout_id=payout.pk).update(payout=None)
    cancelled = Payout.objects.get(pk=payout.pk)
    audit_record(
        action=AuditAction.PAYOUT_CANCELLED,
        actor=actor,
        target_type="payout",
        target_id=cancelled.pk,
        partner_id=cancelled.partner_id,
        summary=f"Payout {cancelled.pk} of {cancelled.amount} USDC base units cancelled; its commissions "
        "are available again.",
        before={"state": Payout.State.PENDING},
        after={"state": Payout.State.CANCELLED, "amount": cancelled.amount},
        now=now,
    )
    return cancelled


def partner_owed(*, partner: Partner) -> dict[str, int]:
    """What the partner has pending, available (unpaid and in no payout), in pending payouts and paid."""
    rows = Commission.objects.filter(partner=partner).aggregate(
        pending=Sum("amount", filter=Q(state=Commission.State.PENDING)),
        available=Sum("amount", filter=Q(state=Commission.State.AVAILABLE, payout__isnull=True)),
        in_payout=Sum("amount", filter=Q(state=Commission.State.AVAILABLE, payout__isnull=False)),
        paid=Sum("amount", filter=Q(state=Commission.State.PAID)),
    )
    return {key: int(value or 0) for key, value in rows.items()}
