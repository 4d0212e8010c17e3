"""Periodic clean-up: the outbox sweep (lost messages, dead workers, expired signatures) and the key purge."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from orders.models import IdempotencyKey, Order
from orders.services.deadlines import fee_deadline
from orders.services.queueing import order_enqueue_reconcile, order_enqueue_submit
from orders.services.settlement import order_fail
from orders.services.transition_fields import in_doubt_fields
from orders.transitions import order_transition
from orders.vocabulary import EventCause

S = Order.Status


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    lease_expired: int
    expired_fee_auth: int


def orders_outbox_sweep(*, now: datetime, limit: int = 500, requeue_limit: int | None = None) -> SweepReport:
    """What a lost message or a dead worker left behind: re-enqueue, recover, expire.

    `requeue_limit` caps the re-enqueued orders (the caller lowers it while the submission queue still
    holds messages: those are not lost, only waiting, and copies would only lengthen the wait).
    """
    budget = limit if requeue_limit is None else max(0, min(limit, requeue_limit))
    return SweepReport(
        requeued=_requeue_lost(now=now, budget=budget),
        lease_expired=_expire_leases(now=now, limit=limit),
        expired_fee_auth=_expire_signatures(now=now, limit=limit),
    )


def _requeue_lost(*, now: datetime, budget: int) -> int:
    """Queued orders due for a while: their message was lost (or never sent), so send another."""
    stale = now - timedelta(seconds=settings.ORDER_OUTBOX_STALE_SECONDS)
    requeued = 0
    due = Order.objects.filter(status=S.QUEUED, next_attempt_at__lte=stale).order_by("next_attempt_at")
    with transaction.atomic():
        for order_id, next_attempt_at in due.values_list("id", "next_attempt_at")[:budget]:
            # Bumping next_attempt_at claims the row, so overlapping sweeps enqueue it once.
            if Order.objects.filter(id=order_id, status=S.QUEUED, next_attempt_at=next_attempt_at).update(
                next_attempt_at=now
            ):
                order_enqueue_submit(order_id=order_id)
                requeued += 1
    return requeued


def _expire_leases(*, now: datetime, limit: int) -> int:
    """A submit whose worker died may have sent its request: in doubt, never simply queued again."""
    lease = now - timedelta(seconds=settings.ORDER_SUBMIT_LEASE_SECONDS)
    expired = 0
    dead = Order.objects.filter(status=S.SUBMITTING, submitting_since__lt=lease)
    for order_id, customer_id, exchange in dead.values_list("id", "customer_id", "exchange")[:limit]:
        with transaction.atomic():
            if order_transition(
                order_id=order_id,
                from_statuses=[S.SUBMITTING],
                to_status=S.UNKNOWN,
                cause=EventCause.LEASE_EXPIRED,
                now=now,
                condition=Q(submitting_since__lt=lease),
                **in_doubt_fields(
                    cause=EventCause.LEASE_EXPIRED,
                    message="The worker sending this order stopped before recording Parsec's answer.",
                ),
            ):
                expired += 1
                order_enqueue_reconcile(customer_id=customer_id, exchange=exchange)
    return expired


def _expire_signatures(*, now: datetime, limit: int) -> int:
    """Orders still awaiting their fee signature past its deadline fail."""
    expired = 0
    awaiting = Order.objects.filter(status=S.AWAITING_FEE_AUTH).select_related("fee_authorization")
    for order in awaiting.order_by("created_at")[:limit]:
        deadline = fee_deadline(order)
        if deadline is not None and deadline <= now:
            expired += order_fail(
                order_id=order.id,
                from_statuses=[S.AWAITING_FEE_AUTH],
                cause=EventCause.FEE_DEADLINE_PASSED,
                now=now,
            )
    return expired


@transaction.atomic
def idempotency_keys_purge(*, now: datetime) -> int:
    """Delete keys older than the retention, except those whose order is not final yet."""
    cutoff = now - timedelta(hours=settings.ORDER_IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = (
        IdempotencyKey.objects.filter(created_at__lt=cutoff)
        .filter(Q(order__isnull=True) | Q(order__status__in=list(Order.FINAL_STATUSES)))
        .delete()
    )
    return deleted
