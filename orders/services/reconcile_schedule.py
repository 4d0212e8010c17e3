"""Which (customer, exchange) pairs to reconcile and when: the beat fan-out and each pair's ReconcileState."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from orders.models import Order, ReconcileState


def reconcile_scope() -> Q:
    """Orders reconciliation visits: at Parsec or in doubt, and final ones whose fills are incomplete."""
    return Q(status__in=list(Order.RECONCILED_STATUSES)) | Q(
        settled_at__isnull=True, status__in=list(Order.FINAL_STATUSES)
    )


def reconcile_pairs() -> QuerySet:
    """Distinct (customer_id, exchange) with something to reconcile; served by a partial index."""
    return (
        Order.objects.filter(reconcile_scope()).values_list("customer_id", "exchange").distinct().order_by()
    )


def reconcile_fan_out(*, now: datetime, stale_after: timedelta) -> list[tuple[uuid.UUID, str]]:
    """The pairs to queue now, oldest-reconciled first, marked as queued (a fixed number of queries).

    A pair already queued is skipped until its run has happened, or until `stale_after` says its message
    was lost (or expired unrun).
    """
    pairs = list(reconcile_pairs())
    if not pairs:
        return []
    customer_ids = {customer_id for customer_id, _ in pairs}
    states = {
        (state.customer_id, state.exchange): state
        for state in ReconcileState.objects.filter(customer_id__in=customer_ids)
    }
    never = datetime.min.replace(tzinfo=now.tzinfo)
    due = []
    for pair in pairs:
        state = states.get(pair)
        waiting = (
            state is not None
            and state.enqueued_at is not None
            and (state.reconciled_at is None or state.reconciled_at < state.enqueued_at)
            and state.enqueued_at > now - stale_after
        )
        if not waiting:
            due.append((state.reconciled_at if state and state.reconciled_at else never, pair))
    due.sort(key=lambda item: item[0])
    chosen = [pair for _, pair in due]
    ReconcileState.objects.bulk_create(
        [
            ReconcileState(customer_id=customer_id, exchange=exchange, enqueued_at=now)
            for customer_id, exchange in chosen
        ],
        update_conflicts=True,
        unique_fields=["customer", "exchange"],
        update_fields=["enqueued_at"],
    )
    return chosen


def reconcile_done(*, customer_id: uuid.UUID | str, exchange: str, now: datetime) -> None:
    """A run happened (whatever it found): the pair may be queued again."""
    ReconcileState.objects.filter(customer_id=customer_id, exchange=exchange).update(reconciled_at=now)


def reconcile_covered(*, customer_id: uuid.UUID | str, exchange: str, since: datetime) -> bool:
    """True when a run started at or after `since`: it read Parsec after anything asked for before then."""
    return ReconcileState.objects.filter(
        customer_id=customer_id, exchange=exchange, reconciled_at__gte=since
    ).exists()
