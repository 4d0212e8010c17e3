"""What Parsec says about an order we sent: its id and state when it accepts, its status and fills after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from orders import fee_axis
from orders.models import PARSEC_STATUSES, Order
from orders.services.queueing import order_enqueue_cancel, order_enqueue_reconcile
from orders.services.settlement import order_settle_if_complete
from orders.services.transition_fields import error_fields, misses_cleared
from orders.transitions import order_transition
from orders.vocabulary import EventCause
from parsec.client import Order as ParsecOrder

S = Order.Status


@dataclass(frozen=True)
class ParsecStateWritten:
    """What a service wrote on the order from Parsec's answer: callers take it, never recompute it."""

    status: str
    filled: Decimal
    parsec_order_id: str


# Live statuses only move forward; an answer that says otherwise is older than what we know.
_LIVE_RANK = {S.PENDING: 0, S.OPEN: 1, S.PARTIALLY_FILLED: 2}


def answered_at() -> datetime:
    # Recorded after a call to Parsec, which can take seconds: the moment of the answer, not of the claim.
    return timezone.now()


def parsec_status_of(answer: ParsecOrder) -> str:
    # Anything Parsec might add later is treated as pending: live, and reconciled until it says more.
    return answer.status if answer.status in PARSEC_STATUSES else S.PENDING


def order_record_accepted(
    *,
    order: Order,
    answer: ParsecOrder,
    from_statuses: list[str],
    cause: str = EventCause.PARSEC_ACCEPTED,
) -> ParsecStateWritten | None:
    """Parsec has this order (its create answered, or a listing showed it): adopt its id and state.

    Returns what was written, or None when another writer got there first. `order` must come with its
    fee_authorization loaded; it is refreshed with the row the adoption wrote.
    """
    now = answered_at()
    written = ParsecStateWritten(
        status=parsec_status_of(answer),
        filled=min(max(answer.filled, Decimal(0)), order.size),
        parsec_order_id=answer.id,
    )
    status = written.status
    with transaction.atomic():
        adopted = order_transition(
            order_id=order.id,
            from_statuses=from_statuses,
            to_status=status,
            cause=cause,
            now=now,
            detail={"parsec_order_id": answer.id, "parsec_status": answer.status},
            condition=Q(parsec_order_id__isnull=True),
            order=order,
            parsec_order_id=answer.id,
            filled=written.filled,
            submitting_since=None,
            next_attempt_at=None,
            **misses_cleared(),
            **error_fields("", ""),
        )
        if not adopted:
            return None
        fee_axis.fee_accepted(fee_authorization=order.fee_authorization, now=now)
        if status in Order.FINAL_STATUSES:
            order_settle_if_complete(order_id=order.id, now=now)
            if answer.filled > 0:
                order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
        elif order.cancel_requested_at is not None:
            # As the UPDATE just returned it: the cancel may have been asked while the create was on its way.
            order_enqueue_cancel(order_id=order.id)
    return written


def order_apply_parsec_state(
    *, order: Order, answer: ParsecOrder, cause: str, now: datetime, settle: bool = True
) -> ParsecStateWritten | None:
    """Bring a live order we know by its Parsec id to the status and filled amount Parsec reports.

    Returns what was written (None: nothing changed). ``settle=False`` leaves closing the fee of an
    order that became final to the caller (reconciliation does it once its fills are recorded).
    """
    status = parsec_status_of(answer)
    filled = min(max(answer.filled, order.filled), order.size)  # filled never goes back
    if _LIVE_RANK.get(status, 99) < _LIVE_RANK.get(order.status, 99):
        status = order.status  # an older picture of a live order (a listing read before the cancel)
    written = ParsecStateWritten(status=status, filled=filled, parsec_order_id=order.parsec_order_id)
    if status == order.status:
        if filled == order.filled:
            return None
        updated = Order.objects.filter(id=order.id, status=order.status, filled__lt=filled).update(
            filled=filled, updated_at=now
        )
        return written if updated else None
    if order.status not in Order.LIVE_STATUSES:
        return None
    changed = order_transition(
        order_id=order.id,
        from_statuses=[order.status],
        to_status=status,
        cause=cause,
        now=now,
        detail={"parsec_status": answer.status, "filled": str(filled)},
        filled=filled,
    )
    if not changed:
        return None
    if settle and status in Order.FINAL_STATUSES:
        order_settle_if_complete(order_id=order.id, now=now)
    return written
