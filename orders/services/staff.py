"""Staff actions on an order (cancel, reconcile, resend) recorded in its history, naming who acted."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from orders.models import Order, OrderEvent
from orders.vocabulary import STAFF_ACTION_CAUSE_PREFIX, EventCause


@transaction.atomic
def order_staff_action_record(
    *,
    order_id: uuid.UUID | str,
    action: str,
    staff_user: str,
    staff_user_id: int,
    outcome: str,
    now: datetime,
) -> OrderEvent:
    """An admin's action on an order (cancel, reconcile, resend) in the order's history, naming who.

    It changes no status (from = to, as any finding does): the transition the action caused, if any,
    has its own event from the service the action called.
    """
    status = Order.objects.filter(id=order_id).values_list("status", flat=True).get()
    return OrderEvent.objects.create(
        order_id=order_id,
        from_status=status,
        to_status=status,
        cause=EventCause(f"{STAFF_ACTION_CAUSE_PREFIX}{action}"),
        detail={"staff_user": staff_user, "staff_user_id": staff_user_id, "outcome": outcome[:500]},
        created_at=now,
    )
