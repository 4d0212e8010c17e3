"""Booking a partner's commission from the fee ledger's partner_share row: the one place it happens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from fees.commission_models import Commission
from fees.models import FeeAuthorization, FeeLedgerEntry


@transaction.atomic
def commission_book(
    *, fee_authorization: FeeAuthorization, entry: FeeLedgerEntry, now: datetime
) -> Commission | None:
    """The commission of one fill for the partner that earns it, pending for COMMISSION_HOLD_DAYS.

    Called by the ledger in the transaction that books the fill's partner_share row, from the fee the
    escrow actually distributed for it; nothing is booked for a share that rounds to zero. A booked
    commission is this function's return value: the place to announce it (a `commission.booked` event).
    """
    if entry.kind != FeeLedgerEntry.Kind.PARTNER_SHARE or entry.amount <= 0:
        return None
    if entry.pk is None:  # a database that does not return ids from a bulk insert
        entry = FeeLedgerEntry.objects.get(
            fee_authorization=fee_authorization, kind=entry.kind, fill_id=entry.fill_id
        )
    return Commission.objects.create(
        partner_id=entry.beneficiary_id or entry.partner_id,
        customer_id=entry.customer_id,
        fee_authorization=fee_authorization,
        kind=Commission.Kind.COMMISSION,
        ledger_entry=entry,
        fill_id=entry.fill_id,
        exchange=entry.exchange,
        share_bps=fee_authorization.partner_share_bps,
        amount=entry.amount,
        state=Commission.State.PENDING,
        available_at=now + timedelta(days=settings.COMMISSION_HOLD_DAYS),
        created_at=now,
    )
