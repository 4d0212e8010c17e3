"""The events orders record for partners: created, status changes and fills, in the change's transaction.

Called from the one place each change happens (order insertion, `transitions.order_transition`, fill
recording). `submitting` is our internal claim of a queued order, not a fact a partner acts on: moving
into it records nothing, and moving out of it reports the status before it (queued).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import F

from events.services import EventToRecord, event_record, events_record_many
from orders.models import Fill, Order
from orders.serializers import FillOutputSerializer, order_json

_INTERNAL = {Order.Status.SUBMITTING}


def _order_json(order_id: uuid.UUID | str) -> tuple[Order, dict[str, Any]]:
    order = Order.objects.select_related("fee_authorization").get(id=order_id)
    return order, order_json(order)


def order_created(*, order: Order, now: datetime) -> None:
    # The order just inserted, rendered as it is in memory, as the create's own 201 answer is: reading
    # it back would cost a query per create for the same fields.
    data = order_json(order)
    event_record(
        partner_id=order.partner_id,
        type="order.created",
        object_type="order",
        object_id=str(order.id),
        data=data,
        version=order.version,
        now=now,
    )


def order_status_changed(*, order: Order, from_status: str, to_status: str, now: datetime) -> None:
    """`order` as the change left it (the row its UPDATE returned), with its fee_authorization loaded."""
    if to_status in _INTERNAL:
        return
    previous = Order.Status.QUEUED if from_status in _INTERNAL else from_status
    if previous == to_status:
        return  # a claim given back: nothing a partner saw has changed
    data = order_json(order)
    event_record(
        partner_id=order.partner_id,
        type="order.updated",
        object_type="order",
        object_id=str(order.id),
        data={**data, "previous_status": str(previous)},
        version=order.version,
        now=now,
    )


def orders_status_changed(*, changes: list[tuple[Order, str, str]], now: datetime) -> None:
    """`order_status_changed` for many orders changed in one transaction: (order, from, to) each."""
    records = []
    for order, from_status, to_status in changes:
        if to_status in _INTERNAL:
            continue
        previous = Order.Status.QUEUED if from_status in _INTERNAL else from_status
        if previous == to_status:
            continue
        records.append(
            EventToRecord(
                partner_id=order.partner_id,
                type="order.updated",
                object_type="order",
                object_id=str(order.id),
                data={**order_json(order), "previous_status": str(previous)},
                version=order.version,
            )
        )
    if records:
        events_record_many(records, now=now)


def order_fills_recorded(*, order_id: uuid.UUID | str, fill_ids: Iterable[str], now: datetime) -> None:
    """One `order.fill` per new fill; the order's version moves on once for the batch."""
    Order.objects.filter(id=order_id).update(version=F("version") + 1)
    order, order_data = _order_json(order_id)
    for fill in Fill.objects.filter(order_id=order_id, fill_id__in=list(fill_ids)).order_by(
        "created_at", "id"
    ):
        event_record(
            partner_id=order.partner_id,
            type="order.fill",
            object_type="order",
            object_id=str(order.id),
            data={**FillOutputSerializer(fill).data, "order_id": str(order.id), "order": order_data},
            version=order.version,
            now=now,
        )
