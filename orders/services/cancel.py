"""Cancel: a partner's cancel, done at once for an order never sent, and sent to Parsec for a live one."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction

from orders import fee_axis
from orders.errors import OrderError
from orders.models import Order
from orders.services.parsec_state import answered_at, order_apply_parsec_state
from orders.services.queueing import order_enqueue_cancel, order_enqueue_reconcile
from orders.transitions import order_transition
from parsec import conf
from parsec.client import ParsecRejected

S = Order.Status
# A live order whose cancel was asked this long ago and is still live gets its cancel sent again.
CANCEL_RESEND_AFTER_SECONDS = 30


def order_cancel_request(*, order: Order, now: datetime) -> Order:
    """A partner's cancel: at once for an order never sent, through Parsec for one that was.

    Raises OrderError (409 order_final) for an order already final.
    """
    for _ in range(3):
        current = Order.objects.filter(id=order.id).values_list("status", flat=True).get()
        if current in Order.FINAL_STATUSES:
            raise OrderError(
                f"This order is already {current}; it cannot be cancelled.", code="order_final", status=409
            )
        if current in Order.UNSENT_STATUSES:
            with transaction.atomic():
                cancelled = order_transition(
                    order_id=order.id,
                    from_statuses=[current],
                    to_status=S.CANCELLED,
                    cause="cancelled_before_send",
                    now=now,
                    cancel_requested_at=now,
                    next_attempt_at=None,
                    settled_at=now,
                )
                if cancelled:
                    fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
            if cancelled:
                break
            continue  # claimed or signed meanwhile: look again
        with transaction.atomic():
            marked = (
                Order.objects.filter(id=order.id, status=current, cancel_requested_at__isnull=True).update(
                    cancel_requested_at=now, updated_at=now
                )
                or Order.objects.filter(
                    id=order.id, status=current, cancel_requested_at__isnull=False
                ).exists()
            )
            if marked and current in Order.LIVE_STATUSES:
                order_enqueue_cancel(order_id=order.id)
        # submitting / unknown: the submission or reconciliation that resolves it sees the request.
        if marked:
            break
    order.refresh_from_db()
    return order


def order_cancel_at_parsec(*, order_id: uuid.UUID | str, now: datetime) -> str:
    """Send the cancel of a live order to Parsec and record the answer.

    Returns what happened: final, waiting (not at Parsec yet), cancelled, reconcile (Parsec refused:
    the listing will tell the truth). Raises ParsecUnavailable / ParsecInDoubt for the task to retry.
    """
    order = Order.objects.select_related("customer", "fee_authorization").filter(id=order_id).first()
    if order is None or order.status in Order.FINAL_STATUSES:
        return "final"
    if order.parsec_order_id is None or order.status not in Order.LIVE_STATUSES:
        return "waiting"
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
                last_error_code=error.code[:64], last_error_message=error.message[:2000], updated_at=now
            )
            order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
        return "reconcile"
    with transaction.atomic():
        order_apply_parsec_state(order=order, answer=answer, cause="parsec_cancelled", now=answered_at())
        order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
    return "cancelled"
