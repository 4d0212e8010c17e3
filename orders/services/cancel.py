"""Cancel: a partner's cancel, done at once for an order never sent, and sent to Parsec for a live one."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction

from orders import fee_axis
from orders.errors import OrderError
from orders.models import Order, OrderEvent
from orders.services.parsec_state import answered_at, order_apply_parsec_state
from orders.services.queueing import order_enqueue_cancel, order_enqueue_reconcile
from orders.services.transition_fields import error_fields
from orders.transitions import order_transition
from orders.vocabulary import CancelOutcome, EventCause, OrderErrorCode
from parsec import conf
from parsec.client import ParsecRejected

S = Order.Status
# A live order whose cancel was asked this long ago and is still live gets its cancel sent again.
CANCEL_RESEND_AFTER_SECONDS = 30
# Looks at the order's status before a cancel refuses as contended (each lost a race to another writer).
CANCEL_ATTEMPTS = 3


def order_cancel_request(*, order: Order, now: datetime, requested_by: dict[str, Any] | None = None) -> Order:
    """A partner's cancel: at once for an order never sent, through Parsec for one that was.

    `requested_by` (orders.services.mass_cancel.cancel_requester) goes into the order's event: the
    cancellation of an unsent order, or a `cancel_requested` finding on one that was sent.

    Returns the order as it is after the request: cancelled, or marked for cancel (`cancel_requested_at`)
    and, if live, with its cancel queued. Raises OrderError: 409 order_final for an order already final,
    409 cancel_contended when the order kept changing state under the request (it is then neither).
    """
    for _ in range(CANCEL_ATTEMPTS):
        current = Order.objects.filter(id=order.id).values_list("status", flat=True).get()
        if current in Order.FINAL_STATUSES:
            raise OrderError(
                f"This order is already {current}; it cannot be cancelled.",
                code=OrderErrorCode.ORDER_FINAL,
                status=409,
            )
        if current in Order.UNSENT_STATUSES:
            done = _cancel_unsent(order, current=current, now=now, requested_by=requested_by)
        else:
            done = _mark_for_cancel(order, current=current, now=now, requested_by=requested_by)
        if done:
            order.refresh_from_db()
            return order
        # Claimed, signed or answered meanwhile: look again.
    raise OrderError(
        f"This order changed state {CANCEL_ATTEMPTS} times while the cancel was being recorded, so it "
        "is not cancelled yet; send the cancel again.",
        code=OrderErrorCode.CANCEL_CONTENDED,
        status=409,
    )


def _cancel_unsent(order: Order, *, current: str, now: datetime, requested_by: dict[str, Any] | None) -> bool:
    """Cancel an order never sent, at once; False when it moved on first."""
    with transaction.atomic():
        cancelled = order_transition(
            order_id=order.id,
            from_statuses=[current],
            to_status=S.CANCELLED,
            cause=EventCause.CANCELLED_BEFORE_SEND,
            now=now,
            detail=requested_by,
            cancel_requested_at=now,
            next_attempt_at=None,
            settled_at=now,
        )
        if cancelled:
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
    return cancelled


def _mark_for_cancel(
    order: Order, *, current: str, now: datetime, requested_by: dict[str, Any] | None
) -> bool:
    """Record the request on an order that was (or may have been) sent; False when it moved on first.

    A live order's cancel is queued; a submitting or unknown one's is seen by the submission or
    reconciliation that resolves it.
    """
    with transaction.atomic():
        first = Order.objects.filter(id=order.id, status=current, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now, updated_at=now
        )
        if first and requested_by:
            # The status changes later, when Parsec answers; the request itself says who asked.
            OrderEvent.objects.create(
                order_id=order.id,
                from_status=current,
                to_status=current,
                cause=EventCause.CANCEL_REQUESTED,
                detail=requested_by,
                created_at=now,
            )
        marked = (
            first
            or Order.objects.filter(id=order.id, status=current, cancel_requested_at__isnull=False).exists()
        )
        if marked and current in Order.LIVE_STATUSES:
            order_enqueue_cancel(order_id=order.id)
    return bool(marked)


def order_cancel_at_parsec(*, order_id: uuid.UUID | str, now: datetime) -> CancelOutcome:
    """Send the cancel of a live order to Parsec and record the answer.

    Returns what happened: final, waiting (not at Parsec yet), cancelled, reconcile (Parsec refused:
    the listing will tell the truth). Raises ParsecUnavailable / ParsecInDoubt for the task to retry.
    """
    order = Order.objects.select_related("customer", "fee_authorization").filter(id=order_id).first()
    if order is None or order.status in Order.FINAL_STATUSES:
        return CancelOutcome.FINAL
    if order.parsec_order_id is None or order.status not in Order.LIVE_STATUSES:
        return CancelOutcome.WAITING
    try:
        answer = conf.get_client().cancel_order(
            exchange=order.exchange,
            customer_id=order.customer.parsec_customer_id,
            order_id=order.parsec_order_id,
        )
    except ParsecRejected as error:
        # Not found, or already final at Parsec: not a failure of the order, only of our picture of it.
        with transaction.atomic():
            Order.objects.filter(id=order.id).update(
                **error_fields(error.code, error.message), updated_at=now
            )
            order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
        return CancelOutcome.RECONCILE
    with transaction.atomic():
        order_apply_parsec_state(
            order=order, answer=answer, cause=EventCause.PARSEC_CANCELLED, now=answered_at()
        )
        order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
    return CancelOutcome.CANCELLED
