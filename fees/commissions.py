"""Booking a partner's commission from the fee ledger's partner_share row: the one place it happens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from events.services import event_record
from fees.commission_models import Commission
from fees.commission_serializers import CommissionSerializer
from fees.models import FeeAuthorization, FeeLedgerEntry


@transaction.atomic
def commission_book(
    *, fee_authorization: FeeAuthorization, entry: FeeLedgerEntry, now: datetime
) -> Commission | None:
    """The commission of one fill for the partner that earns it, pending for COMMISSION_HOLD_DAYS.

    Called by the ledger in the transaction that books the fill's partner_share row, from the fee the
    escrow actually distributed for it; nothing is booked for a share that rounds to zero. A booked
    commission is announced here, in that transaction, by a `commission.booked` event.
    """
    if entry.kind != FeeLedgerEntry.Kind.PARTNER_SHARE or entry.amount <= 0:
        return None
    if entry.pk is None:  # a database that does not return ids from a bulk insert
        entry = FeeLedgerEntry.objects.get(
            fee_authorization=fee_authorization, kind=entry.kind, fill_id=entry.fill_id
        )
    commission = Commission.objects.create(
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
    order = getattr(fee_authorization, "order", None)  # the reverse of Order.fee_authorization
    commission.order_id = order.id if order is not None else None  # as the API annotates it
    event_record(
        partner_id=commission.partner_id,
        type="commission.booked",
        object_type="commission",
        object_id=str(commission.pk),
        data=dict(CommissionSerializer(commission).data),
        now=now,
    )
    return commission
