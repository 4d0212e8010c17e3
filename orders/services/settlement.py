"""Ends of an order's fee: an order Parsec never accepted fails; a final order is settled."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum

from orders import fee_axis
from orders.models import Order
from orders.services.transition_fields import ended_fields, error_fields
from orders.transitions import order_transition

logger = logging.getLogger(__name__)

S = Order.Status


def order_fail(
    *,
    order_id: uuid.UUID | str,
    from_statuses: list[str],
    cause: str,
    now: datetime,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """End an order that Parsec never accepted; its fee authorization can no longer be used."""
    with transaction.atomic():
        failed = order_transition(
            order_id=order_id,
            from_statuses=from_statuses,
            to_status=S.FAILED,
            cause=cause,
            now=now,
            detail={"code": error_code} if error_code else None,
            **ended_fields(now=now),
            **error_fields(error_code or cause, error_message),
        )
        if failed:
            order = Order.objects.select_related("fee_authorization").get(id=order_id)
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
    return failed


def order_settle_if_complete(*, order_id: uuid.UUID | str, now: datetime) -> bool:
    """Close the fee of a final order whose fills are all recorded: the unfilled part is refunded.

    A refusal from the fee ledger leaves the order unsettled (and logged): reconciliation tries again.
    """
    try:
        with transaction.atomic():
            order = Order.objects.select_related("fee_authorization").get(id=order_id)
            if order.status not in Order.FINAL_STATUSES or order.settled_at is not None:
                return False
            recorded = order.fills.aggregate(total=Sum("size"))["total"] or Decimal(0)
            if recorded < order.filled:
                return False  # a fill is still to be read from Parsec
            if not Order.objects.filter(id=order.id, settled_at__isnull=True).update(settled_at=now):
                return False
            if order.parsec_order_id is None:
                fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
            else:
                fee_axis.fee_final(
                    fee_authorization=order.fee_authorization,
                    filled_total=order.filled,
                    size=order.size,
                    now=now,
                )
    except fee_axis.LedgerConflict as error:
        logger.error("order %s cannot be settled yet: %s", order_id, error.message)
        return False
    return True
