"""The events the fee ledger records for partners: fee_authorization.signed, fee.settled, fee.refunded.

Each is written in the transaction of its state change, with the fee as partners see it (the order's
fee axis plus the ledger's totals). The object id is the order's id, so `GET /events?object_id=<order>`
lists an order's fee events with its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Sum

from events.services import event_record
from fees.models import FeeAuthorization, FeeLedgerEntry

Kind = FeeLedgerEntry.Kind


def fee_json(authorization: FeeAuthorization) -> dict[str, Any]:
    try:
        order_id = str(authorization.order.pk)  # the order's one-to-one to it; no import of orders
    except ObjectDoesNotExist:
        order_id = None
    totals = dict(
        FeeLedgerEntry.objects.filter(fee_authorization=authorization)
        .values("kind")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("kind", "total")
    )
    distributed = int(totals.get(Kind.DISTRIBUTED_AFFILIATE) or 0) + int(
        totals.get(Kind.DISTRIBUTED_TREASURY) or 0
    )
    return {
        "order_id": order_id,
        "customer_id": str(authorization.customer_id),
        "exchange": authorization.exchange,
        "state": authorization.state,
        "fee_amount": str(authorization.fee_amount),
        "fee_bps": authorization.fee_bps,
        "escrow_order_id": authorization.escrow_order_id,
        "deadline": int(authorization.deadline.timestamp()),
        "distributed_amount": str(distributed),
        "refunded_amount": str(int(totals.get(Kind.REFUNDED) or 0)),
    }


def fee_event_record(*, fee_authorization_id: int, type: str, now: datetime) -> None:  # noqa: A002
    authorization = FeeAuthorization.objects.get(pk=fee_authorization_id)
    data = fee_json(authorization)
    event_record(
        partner_id=authorization.partner_id,
        type=type,
        object_type="fee",
        object_id=data["order_id"] or authorization.escrow_order_id,
        data=data,
        now=now,
    )
