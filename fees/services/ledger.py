"""The fee ledger: authorized, distributed per fill (affiliate, treasury, partner share) and refunded."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from fees.commissions import commission_book
from fees.errors import FeeLedgerError
from fees.event_log import fee_event_record
from fees.models import FeeAuthorization, FeeLedgerEntry
from fees.money import bps_share, cumulative_share
from fees.services.authorizations import fee_authorization_mark_refunded, fee_authorization_mark_settled

State = FeeAuthorization.State
Kind = FeeLedgerEntry.Kind


# --- Ledger ------------------------------------------------------------------------------------------


def _locked(fee_authorization: FeeAuthorization) -> FeeAuthorization:
    # Ledger writes for one authorization take turns (PostgreSQL row lock; SQLite's write lock).
    return FeeAuthorization.objects.select_for_update().get(pk=fee_authorization.pk)


def _booked(fee_authorization: FeeAuthorization) -> dict[str, int]:
    """kind -> total booked so far for this authorization (one query)."""
    rows = (
        FeeLedgerEntry.objects.filter(fee_authorization=fee_authorization)
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    totals = {kind: 0 for kind in Kind.values}
    totals.update({row["kind"]: int(row["total"]) for row in rows})
    return totals


def _entry(authorization: FeeAuthorization, *, kind: str, amount: int, now: datetime, fill_id: str = ""):
    return FeeLedgerEntry(
        fee_authorization=authorization,
        kind=kind,
        fill_id=fill_id,
        amount=amount,
        partner_id=authorization.partner_id,
        customer_id=authorization.customer_id,
        exchange=authorization.exchange,
        created_at=now,
    )


def _check_fill_figures(*, filled_total: Decimal, size: Decimal) -> None:
    if not isinstance(filled_total, Decimal) or not isinstance(size, Decimal):
        raise TypeError("filled_total and size must be Decimal")
    if size <= 0 or filled_total < 0 or filled_total > size:
        raise FeeLedgerError(f"A filled total of {filled_total} is impossible for an order of size {size}.")


@transaction.atomic
def fee_ledger_record_authorized(
    *, fee_authorization: FeeAuthorization, now: datetime | None = None
) -> FeeLedgerEntry:
    """Book the fee Parsec pulled into escrow when it accepted the order; once per authorization."""
    authorization = _locked(fee_authorization)
    existing = FeeLedgerEntry.objects.filter(fee_authorization=authorization, kind=Kind.AUTHORIZED).first()
    if existing is not None:
        return existing
    if authorization.state not in (State.ESCROWED, State.SETTLED, State.REFUNDED):
        raise FeeLedgerError(
            f"A fee authorization that is {authorization.state} has not been pulled into escrow."
        )
    entry = _entry(
        authorization, kind=Kind.AUTHORIZED, amount=authorization.fee_amount, now=now or timezone.now()
    )
    entry.save()
    return entry


@transaction.atomic
def fee_ledger_record_fill(
    *,
    fee_authorization: FeeAuthorization,
    fill_id: str,
    filled_total: Decimal,
    size: Decimal,
    now: datetime | None = None,
) -> list[FeeLedgerEntry]:
    """Book the escrow's distribution for one new fill; a fill already booked adds nothing.

    `filled_total` is the order's cumulative filled size after this fill. The distributed total becomes
    floor(fee x filled_total / size) (never less than already booked), split between the affiliate
    (floor of its cumulative bps share) and the treasury (the rest); a partner without its own
    affiliate address is owed its revenue share of the affiliate part off-chain (`partner_share`).
    """
    if not isinstance(fill_id, str) or not fill_id or len(fill_id) > 128:
        raise FeeLedgerError("A fill id must be a non-empty string of at most 128 characters.")
    _check_fill_figures(filled_total=filled_total, size=size)
    now = now or timezone.now()
    authorization = _locked(fee_authorization)
    if FeeLedgerEntry.objects.filter(
        fee_authorization=authorization, kind=Kind.DISTRIBUTED_TREASURY, fill_id=fill_id
    ).exists():
        return []  # a replayed fill
    if authorization.state != State.ESCROWED:
        raise FeeLedgerError(
            f"Fill {fill_id} cannot be booked: the fee authorization is {authorization.state}, not escrowed."
        )
    booked = _booked(authorization)
    authorized = booked[Kind.AUTHORIZED]
    if authorized == 0:
        raise FeeLedgerError(f"Fill {fill_id} cannot be booked before the authorized fee is.")
    distributed = booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY]
    # max(): a fill reported late, after a larger cumulative total, must not take anything back.
    cumulative = max(cumulative_share(authorized, part=filled_total, whole=size), distributed)
    affiliate_cumulative = bps_share(cumulative, authorization.affiliate_fee_bps)
    affiliate_part = affiliate_cumulative - booked[Kind.DISTRIBUTED_AFFILIATE]
    treasury_part = (cumulative - distributed) - affiliate_part
    if affiliate_part < 0 or treasury_part < 0 or cumulative > authorized:
        raise FeeLedgerError(f"Fill {fill_id} would break the fee split; the ledger needs a look.")
    entries = [
        _entry(
            authorization, kind=Kind.DISTRIBUTED_AFFILIATE, amount=affiliate_part, now=now, fill_id=fill_id
        ),
        _entry(authorization, kind=Kind.DISTRIBUTED_TREASURY, amount=treasury_part, now=now, fill_id=fill_id),
    ]
    if authorization.partner_share_bps:
        share_cumulative = bps_share(affiliate_cumulative, authorization.partner_share_bps)
        share = _entry(
            authorization,
            kind=Kind.PARTNER_SHARE,
            amount=share_cumulative - booked[Kind.PARTNER_SHARE],
            now=now,
            fill_id=fill_id,
        )
        share.beneficiary_id = authorization.beneficiary_id or authorization.partner_id
        entries.append(share)
    created = FeeLedgerEntry.objects.bulk_create(entries)
    if authorization.partner_share_bps:
        # The fill's commission, for the partner that earns it, in this same transaction.
        commission_book(fee_authorization=authorization, entry=created[-1], now=now)
    return created


@transaction.atomic
def fee_ledger_record_final(
    *, fee_authorization: FeeAuthorization, filled_total: Decimal, size: Decimal, now: datetime | None = None
) -> FeeLedgerEntry:
    """The order is final and every fill is booked: refund the rest and close the authorization.

    Afterwards distributed + refunded == authorized exactly; the state becomes settled (something
    filled) or refunded (nothing did). Calling it again returns the same refund.
    """
    _check_fill_figures(filled_total=filled_total, size=size)
    now = now or timezone.now()
    authorization = _locked(fee_authorization)
    existing = FeeLedgerEntry.objects.filter(fee_authorization=authorization, kind=Kind.REFUNDED).first()
    if existing is not None:
        return existing
    if authorization.state != State.ESCROWED:
        raise FeeLedgerError(f"A fee authorization that is {authorization.state} cannot be settled.")
    booked = _booked(authorization)
    authorized = booked[Kind.AUTHORIZED]
    if authorized == 0:
        raise FeeLedgerError("The authorized fee must be booked before the order's fee is settled.")
    distributed = booked[Kind.DISTRIBUTED_AFFILIATE] + booked[Kind.DISTRIBUTED_TREASURY]
    expected = cumulative_share(authorized, part=filled_total, whole=size)
    if distributed != expected:
        raise FeeLedgerError(
            f"The fills booked distribute {distributed} base units, but a filled total of {filled_total} "
            f"distributes {expected}: book the missing fills before settling."
        )
    entry = _entry(authorization, kind=Kind.REFUNDED, amount=authorized - distributed, now=now)
    entry.save()
    closed = (fee_authorization_mark_settled if filled_total > 0 else fee_authorization_mark_refunded)(
        fee_authorization_id=authorization.pk, now=now
    )
    if not closed:  # unreachable while the row is locked; a guard against a silent half-close
        raise FeeLedgerError("The fee authorization changed state while it was being settled.")
    fee_event_record(
        fee_authorization_id=authorization.pk,
        type="fee.settled" if filled_total > 0 else "fee.refunded",
        now=now,
    )
    # The caller's instance reflects the new state, as after any other transition it asked for.
    fee_authorization.state = State.SETTLED if filled_total > 0 else State.REFUNDED
    fee_authorization.finished_at = now
    return entry
