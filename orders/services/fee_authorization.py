"""The customer's signature of an order's PullFee: verified by the fees service, then the order is queued."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from customers.models import Customer
from orders import fee_axis
from orders.errors import OrderError
from orders.models import Order
from orders.services.deadlines import fee_deadline, order_give_up_at
from orders.services.queueing import order_enqueue_submit
from orders.services.settlement import order_fail
from orders.transitions import order_transition

S = Order.Status


def order_fee_authorization_submit(*, order: Order, signature: str, now: datetime) -> Order:
    """Check the customer's signature of the order's PullFee and queue the order for submission.

    Raises OrderError, or the fees service's own error for a bad signature. A deadline already passed
    fails the order (and expires the authorization) before the error is raised.
    """
    if order.status != S.AWAITING_FEE_AUTH or order.fee_authorization_id is None:
        raise OrderError(
            f"This order is {order.status}; it is not waiting for a fee authorization.",
            code="fee_authorization_not_expected",
            status=409,
        )
    if Customer.objects.filter(pk=order.customer_id, status=Customer.Status.DISABLED).exists():
        raise OrderError(
            "This order's customer is disabled, so its fee authorization is not accepted; the order "
            "fails at its deadline, or cancel it now.",
            code="customer_disabled",
            status=409,
        )
    deadline = fee_deadline(order)
    if deadline is not None and deadline <= now:
        order_fail(
            order_id=order.id, from_statuses=[S.AWAITING_FEE_AUTH], cause="fee_deadline_passed", now=now
        )
        raise OrderError(
            "The fee authorization's deadline has passed; the order has failed. Place it again.",
            code="fee_authorization_expired",
            status=409,
        )
    if deadline is not None and now >= order_give_up_at(order):
        # Accepted now, it could never be sent: Parsec must still find the deadline ahead when it checks.
        margin = settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS
        order_fail(
            order_id=order.id, from_statuses=[S.AWAITING_FEE_AUTH], cause="fee_deadline_too_close", now=now
        )
        raise OrderError(
            f"The fee authorization's deadline is {int((deadline - now).total_seconds())} s away, too close "
            f"to send the order before it (an order is not sent within {margin} s of its deadline); the "
            "order has failed. Place it again and sign the new fee authorization sooner.",
            code="fee_deadline_too_close",
            status=409,
        )
    with transaction.atomic():
        try:
            fee_axis.fee_signed(fee_authorization_id=order.fee_authorization_id, signature=signature, now=now)
        except fee_axis.FeeError as error:
            if error.error_code != "fee_auth_used":
                raise
            # A concurrent submission signed it between our read of the order and this one: the same
            # answer as every other loser of the race, which finds the order already queued.
            raise OrderError(
                "This order is no longer waiting for a fee authorization.",
                code="fee_authorization_not_expected",
                status=409,
            ) from None
        queued = order_transition(
            order_id=order.id,
            from_statuses=[S.AWAITING_FEE_AUTH],
            to_status=S.QUEUED,
            cause="fee_authorization_signed",
            now=now,
            next_attempt_at=now,
        )
        if not queued:
            raise OrderError(
                "This order is no longer waiting for a fee authorization.",
                code="fee_authorization_not_expected",
                status=409,
            )
        order_enqueue_submit(order_id=order.id)
    order.refresh_from_db()
    return order
