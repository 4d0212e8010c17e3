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
from orders.vocabulary import EventCause, OrderErrorCode

S = Order.Status


def order_fee_authorization_submit(*, order: Order, signature: str, now: datetime) -> Order:
    """Check the customer's signature of the order's PullFee and queue the order for submission.

    Raises OrderError, or the fees service's FeeError for the signature itself (its callers word that
    one as a refusal of the signature). A deadline already passed, or too close to send the order
    before it, fails the order before the error is raised.
    """
    _refuse_unless_waiting(order, now=now)
    with transaction.atomic():
        try:
            fee_axis.fee_signed(fee_authorization_id=order.fee_authorization_id, signature=signature, now=now)
        except fee_axis.FeeError as error:
            if error.code != "fee_auth_used":
                raise  # the signature's own refusal, as the fees service words it
            # A concurrent submission signed it between our read of the order and this one: the same
            # answer as every other loser of the race, which finds the order already queued.
            raise _no_longer_waiting() from None
        queued = order_transition(
            order_id=order.id,
            from_statuses=[S.AWAITING_FEE_AUTH],
            to_status=S.QUEUED,
            cause=EventCause.FEE_AUTHORIZATION_SIGNED,
            now=now,
            next_attempt_at=now,
        )
        if not queued:
            raise _no_longer_waiting()
        order_enqueue_submit(order_id=order.id)
    order.refresh_from_db()
    return order


def _refuse_unless_waiting(order: Order, *, now: datetime) -> None:
    """Why this order cannot take a signature now, as an OrderError (failing it if it is out of time)."""
    if order.status != S.AWAITING_FEE_AUTH or order.fee_authorization_id is None:
        raise OrderError(
            f"This order is {order.status}; it is not waiting for a fee authorization.",
            code=OrderErrorCode.FEE_AUTHORIZATION_NOT_EXPECTED,
            status=409,
        )
    if Customer.objects.filter(pk=order.customer_id, status=Customer.Status.DISABLED).exists():
        raise OrderError(
            "This order's customer is disabled, so its fee authorization is not accepted; the order "
            "fails at its deadline, or cancel it now.",
            code=OrderErrorCode.CUSTOMER_DISABLED,
            status=409,
        )
    deadline = fee_deadline(order)
    if deadline is None:
        return
    if deadline <= now:
        _fail(order, cause=EventCause.FEE_DEADLINE_PASSED, now=now)
        raise OrderError(
            "The fee authorization's deadline has passed; the order has failed. Place it again.",
            code=OrderErrorCode.FEE_AUTHORIZATION_EXPIRED,
            status=409,
        )
    if now >= order_give_up_at(order):
        # Accepted now, it could never be sent: Parsec must still find the deadline ahead when it checks.
        margin = settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS
        _fail(order, cause=EventCause.FEE_DEADLINE_TOO_CLOSE, now=now)
        raise OrderError(
            f"The fee authorization's deadline is {int((deadline - now).total_seconds())} s away, too close "
            f"to send the order before it (an order is not sent within {margin} s of its deadline); the "
            "order has failed. Place it again and sign the new fee authorization sooner.",
            code=OrderErrorCode.FEE_DEADLINE_TOO_CLOSE,
            status=409,
        )


def _fail(order: Order, *, cause: EventCause, now: datetime) -> None:
    order_fail(order_id=order.id, from_statuses=[S.AWAITING_FEE_AUTH], cause=cause, now=now)


def _no_longer_waiting() -> OrderError:
    return OrderError(
        "This order is no longer waiting for a fee authorization.",
        code=OrderErrorCode.FEE_AUTHORIZATION_NOT_EXPECTED,
        status=409,
    )
