"""Orders whose create is in doubt: matching Parsec's orders to our intents, misses, late arrivals, resend."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from audit.models import AuditAction
from audit.services import Actor, audit_record
from customers.models import Customer
from orders import fee_axis
from orders.models import PARSEC_LIVE_STATUSES, Order, OrderEvent
from orders.services.deadlines import order_give_up_at
from orders.services.parsec_state import order_record_accepted
from orders.services.queueing import order_enqueue_submit
from orders.services.reconcile_report import ReconcileReport
from orders.services.settlement import order_fail
from orders.services.transition_fields import misses_cleared
from orders.transitions import order_transition
from orders.vocabulary import EventCause
from parsec.client import Order as ParsecOrder

logger = logging.getLogger(__name__)

S = Order.Status
DUPLICATE_CAUSE = EventCause.DUPLICATE_AT_PARSEC  # the admin's "found twice at Parsec" filter reads it


def _matches_intent(order: Order, candidate: ParsecOrder, *, skew: timedelta) -> bool:
    sent = order.sent_at or order.created_at
    return (
        candidate.market_id == order.market_id
        and candidate.outcome == order.outcome
        and candidate.side == order.side
        and candidate.price == order.price
        and candidate.size == order.size
        and candidate.created_at >= sent - skew
    )


def _intent(order: Order | ParsecOrder) -> tuple:
    return (order.market_id, order.outcome, order.side, order.price, order.size)


def first_match(
    order: Order, listed: Iterable[ParsecOrder], claimed: set[str], *, skew: timedelta
) -> ParsecOrder | None:
    """The earliest listed order, not yet claimed, that matches this order's intent."""
    candidates = [
        item for item in listed if item.id not in claimed and _matches_intent(order, item, skew=skew)
    ]
    return min(candidates, key=lambda item: (item.created_at, item.id), default=None)


def late_arrivals_record(
    *,
    customer: Customer,
    exchange: str,
    orders: list[Order],
    unclaimed: list[ParsecOrder],
    claimed: set[str],
    skew: timedelta,
    now: datetime,
    report: ReconcileReport,
) -> None:
    """Parsec orders none of ours claims that match an intent of ours sent before.

    A create in doubt can be applied after the listings that missed it, once its order was sent again.
    If that order is still waiting to go, it adopts the late one and the second send never leaves. If
    it was placed again, the late one is a duplicate of ours: noted on the order, logged, and cancelled
    at Parsec while it is live (after this transaction).
    """
    # An order of ours with the same intent still on its way may own it: its own answer or pass decides.
    busy = {
        _intent(order)
        for order in Order.objects.filter(
            customer_id=customer.id, exchange=exchange, status__in=[S.SUBMITTING, S.UNKNOWN]
        ).only("market_id", "outcome", "side", "price", "size")
    }
    unclaimed = [item for item in unclaimed if _intent(item) not in busy]
    if not unclaimed:
        return
    waiting = (
        Order.objects.filter(
            customer_id=customer.id, exchange=exchange, status=S.QUEUED, sent_at__isnull=False
        )
        .select_related("fee_authorization")
        .order_by("created_at", "id")
    )
    for order in waiting:
        found = first_match(order, unclaimed, claimed, skew=skew)
        if found is not None and order_record_accepted(
            order=order, answer=found, from_statuses=[S.QUEUED], cause=EventCause.ADOPTED_LATE_ARRIVAL
        ):
            claimed.add(found.id)
            report.adopted += 1
    sent_again = [order for order in orders if order.parsec_order_id and order.submit_attempts > 1]
    if sent_again:
        report.duplicates += _duplicates_record(sent_again, unclaimed, claimed, skew=skew, now=now)


def _duplicates_record(
    sent_again: list[Order],
    unclaimed: list[ParsecOrder],
    claimed: set[str],
    *,
    skew: timedelta,
    now: datetime,
) -> list[str]:
    """Note each late arrival matching an order placed again; returns the Parsec ids still live."""
    noted = set(
        OrderEvent.objects.filter(
            order_id__in=[order.id for order in sent_again], cause=EventCause.DUPLICATE_AT_PARSEC
        ).values_list("detail__parsec_order_id", flat=True)
    )
    live = []
    for order in sent_again:
        while (duplicate := first_match(order, unclaimed, claimed, skew=skew)) is not None:
            claimed.add(duplicate.id)
            if duplicate.id not in noted:
                OrderEvent.objects.create(
                    order_id=order.id,
                    from_status=order.status,
                    to_status=order.status,
                    cause=EventCause.DUPLICATE_AT_PARSEC,
                    detail={"parsec_order_id": duplicate.id, "parsec_status": duplicate.status},
                    created_at=now,
                )
                logger.error(
                    "order %s is at Parsec twice (%s, and %s from a send that arrived late)",
                    order.id,
                    order.parsec_order_id,
                    duplicate.id,
                )
            if duplicate.status in PARSEC_LIVE_STATUSES:
                live.append(duplicate.id)
    return live


def miss_record(order: Order, *, now: datetime) -> bool:
    """A listing without this order in doubt; after enough of them over the grace period, act.

    Returns True when the order was sent again.
    """
    misses = order.reconcile_misses + 1
    first_miss_at = order.first_miss_at or now
    Order.objects.filter(id=order.id, status=S.UNKNOWN).update(
        reconcile_misses=misses, first_miss_at=first_miss_at, updated_at=now
    )
    order.reconcile_misses, order.first_miss_at = misses, first_miss_at
    grace = timedelta(seconds=settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS)
    if misses < settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND or now - first_miss_at < grace:
        return False
    # Parsec has, by now, shown no such order repeatedly: it never arrived.
    if order.cancel_requested_at is not None:
        if order_transition(
            order_id=order.id,
            from_statuses=[S.UNKNOWN],
            to_status=S.CANCELLED,
            cause=EventCause.CANCELLED_NOT_AT_PARSEC,
            now=now,
            detail={"misses": misses},
            condition=Q(parsec_order_id__isnull=True),
            settled_at=now,
        ):
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
        return False
    if now >= order_give_up_at(order):
        order_fail(order_id=order.id, from_statuses=[S.UNKNOWN], cause=EventCause.NOT_AT_PARSEC, now=now)
        return False
    return order_resend(
        order_id=order.id,
        cause=EventCause.RESENT_NOT_AT_PARSEC,
        actor=Actor.system("reconcile, not at Parsec"),
        now=now,
    )


def order_resend(*, order_id: uuid.UUID | str, cause: str, actor: Actor, now: datetime) -> bool:
    """Send an order in doubt again (same escrow order id), after listings kept not showing it.

    A resend places an order again, so it is audited (order.resent) in the transition's transaction,
    whoever asked: a staff user, or the reconciler itself.
    """
    with transaction.atomic():
        requeued = order_transition(
            order_id=order_id,
            from_statuses=[S.UNKNOWN],
            to_status=S.QUEUED,
            cause=cause,
            now=now,
            condition=Q(parsec_order_id__isnull=True),
            next_attempt_at=now,
            **misses_cleared(),
        )
        if requeued:
            order_enqueue_submit(order_id=order_id)
            partner_id = Order.objects.filter(id=order_id).values_list("partner_id", flat=True).get()
            audit_record(
                action=AuditAction.ORDER_RESENT,
                actor=actor,
                target_type="order",
                target_id=order_id,
                partner_id=partner_id,
                summary=f"Order {order_id} sent again to Parsec ({cause}).",
                before={"status": S.UNKNOWN},
                after={"status": S.QUEUED},
                now=now,
            )
    return requeued


def order_resend_check(order: Order, *, now: datetime) -> str | None:
    """Why an order in doubt may not be sent again yet, or None when it may (admin's resend action)."""
    if order.status != S.UNKNOWN:
        return f"the order is {order.status}, not unknown"
    if order.reconcile_misses < settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND:
        return (
            f"only {order.reconcile_misses} of {settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND} listings "
            "without it so far"
        )
    grace = timedelta(seconds=settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS)
    if order.first_miss_at is None or now - order.first_miss_at < grace:
        return "the listings without it do not span the grace period yet"
    if now >= order_give_up_at(order):
        return "its deadline has passed"
    return None
