"""The one way an order's status changes: a conditional UPDATE plus its OrderEvent, in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from builder_platform import metrics
from fees.models import FeeAuthorization
from orders import event_log
from orders.models import PARSEC_STATUSES, Order, OrderEvent
from orders.returning import order_refresh, orders_update_returning

S = Order.Status
_ANSWERED = PARSEC_STATUSES  # what a Parsec answer can say

# Every status change the platform makes. Final states have no way out.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.AWAITING_FEE_AUTH: frozenset({S.QUEUED, S.CANCELLED, S.FAILED}),
    # Claimed, cancelled, out of time, or found at Parsec (an earlier send that arrived late).
    S.QUEUED: frozenset({*_ANSWERED, S.SUBMITTING, S.FAILED}),
    # Claimed: Parsec's answer, back to the queue (nothing happened), in doubt, or out of time.
    S.SUBMITTING: frozenset({*_ANSWERED, S.QUEUED, S.UNKNOWN, S.FAILED}),
    S.PENDING: _ANSWERED,
    S.OPEN: _ANSWERED,
    S.PARTIALLY_FILLED: _ANSWERED,
    # Adopted from a listing, sent again after the grace period, or given up.
    S.UNKNOWN: frozenset({*_ANSWERED, S.QUEUED, S.FAILED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.FAILED: frozenset(),
}


class IllegalTransition(ValueError):
    """A programming error: the caller asked for a change the lifecycle does not have."""


def is_allowed(from_status: str, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, frozenset())


def order_transition(
    *,
    order_id: uuid.UUID | str,
    from_statuses: Iterable[str],
    to_status: str,
    cause: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
    condition: Q | None = None,
    order: Order | None = None,
    **fields: Any,
) -> bool:
    """Move the order to `to_status` if it is in one of `from_statuses` (and matches `condition`).

    Returns False, changing nothing, when another writer got there first or the order is elsewhere.
    `fields` are written in the same UPDATE. Runs inside the caller's transaction when there is one,
    so the caller's related writes (fee axis, ledger) commit or roll back with the transition; without
    a savepoint of its own, since a failure here fails the caller's transaction anyway (a caller that
    catches one, as the claim does its IntegrityError, holds the savepoint).

    The UPDATE returns the row it wrote, and the order's event is rendered from it. A caller that passes
    its in-memory `order` (with fee_authorization loaded, and unchanged by anyone else meanwhile, as an
    order in flight is) gets it refreshed with that row and spares the event a read of the fee.
    """
    candidates = {str(status) for status in from_statuses} - {str(to_status)}
    for status in candidates:
        if not is_allowed(status, to_status):
            raise IllegalTransition(f"an order cannot go from {status} to {to_status}")
    if not candidates:
        return False
    with transaction.atomic(savepoint=False):
        for _ in range(3):
            if len(candidates) == 1:
                # One possible origin: the UPDATE alone says whether we won, no read needed.
                current = next(iter(candidates))
            else:
                current = Order.objects.filter(id=order_id).values_list("status", flat=True).first()
                if current not in candidates:
                    return False
            query = Order.objects.filter(id=order_id, status=current)
            if condition is not None:
                query = query.filter(condition)
            written = orders_update_returning(
                query, status=to_status, updated_at=now, version=F("version") + 1, **fields
            )
            if written:
                row = written[0]
                if order is not None:
                    order_refresh(order, row)
                elif row.fee_authorization_id is not None:
                    row.fee_authorization = FeeAuthorization.objects.get(id=row.fee_authorization_id)
                OrderEvent.objects.create(
                    order_id=order_id,
                    from_status=current,
                    to_status=to_status,
                    cause=cause,
                    detail=detail or {},
                    created_at=now,
                )
                event_log.order_status_changed(
                    order=order if order is not None else row,
                    from_status=current,
                    to_status=to_status,
                    now=now,
                )
                metrics.order_transitioned(from_status=current, to_status=to_status)
                return True
            if len(candidates) == 1:
                return False
            # The status moved between our read and our UPDATE; read it again.
        return False
