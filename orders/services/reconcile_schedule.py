"""Which (customer, exchange) pairs to reconcile and when: the beat fan-out and each pair's ReconcileState."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from orders.models import Order, ReconcileState
from orders.services.transition_fields import error_fields
from parsec.client import ParsecRejected

logger = logging.getLogger(__name__)

# Work that asks for a reconcile of one customer (a lost answer, a fill on arrival, a cancel) waits this
# long, so a burst of such orders shares one reconcile run.
RECONCILE_SOON_SECONDS = 1.0
# A pair whose listing Parsec refuses is tried again after the beat interval, doubling per refusal in a
# row up to this (a refusal is a 4xx: a key or an end-user Parsec no longer accepts, fixed by a person).
RECONCILE_REFUSED_MAX_BACKOFF = timedelta(hours=1)


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
        backing_off = state is not None and state.retry_at is not None and state.retry_at > now
        if not waiting and not backing_off:
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


def reconcile_done(
    *, customer_id: uuid.UUID | str, exchange: str, now: datetime, succeeded: bool = False
) -> None:
    """A run that started at `now` happened (whatever it found): the pair may be queued again.

    `succeeded`: Parsec answered its listings, so a refusal recorded before is over. `reconciled_at`
    only moves forward: on a thread-pool worker two runs of one pair can overlap, and the older one
    finishing last must not make a pair queued since look still waiting (the fan-out would then skip
    it until its message is presumed lost). The newer run's outcome is the one that stands.
    """
    fields = {"reconciled_at": now}
    if succeeded:
        fields.update(refusals=0, refused_at=None, retry_at=None, **error_fields("", ""))
    ReconcileState.objects.filter(customer_id=customer_id, exchange=exchange).filter(
        Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=now)
    ).update(**fields)


def reconcile_refused(
    *, customer_id: uuid.UUID | str, exchange: str, error: ParsecRejected, now: datetime
) -> ReconcileState:
    """Parsec refused to list this pair's orders: record it, back off, and say so in one log line.

    Beat skips the pair until `retry_at`; the admin lists it with the refusal (Reconcile states).
    """
    with transaction.atomic():
        state = _state_for_update(customer_id=customer_id, exchange=exchange)
        state.refusals += 1
        interval = timedelta(seconds=settings.ORDER_RECONCILE_INTERVAL_SECONDS)
        backoff = min(RECONCILE_REFUSED_MAX_BACKOFF, interval * 2 ** (state.refusals - 1))
        state.refused_at, state.retry_at = now, now + backoff
        state.reconciled_at = max(state.reconciled_at or now, now)
        for name, value in error_fields(error.code, error.message).items():
            setattr(state, name, value)
        state.save(
            update_fields=[
                "refusals",
                "refused_at",
                "retry_at",
                "reconciled_at",
                "last_error_code",
                "last_error_message",
            ]
        )
    logger.warning(
        "reconcile of customer %s on %s refused by Parsec (%s %s), %d time(s) in a row; next try after "
        "%s: %s",
        customer_id,
        exchange,
        error.status,
        error.code,
        state.refusals,
        state.retry_at.isoformat(),
        error.message,
    )
    return state


def reconcile_backing_off(*, customer_id: uuid.UUID | str, exchange: str, now: datetime) -> bool:
    """True while a pair whose listing Parsec refused waits for its next try."""
    return ReconcileState.objects.filter(
        customer_id=customer_id, exchange=exchange, retry_at__gt=now
    ).exists()


def reconcile_soon_claim(*, customer_id: uuid.UUID | str, exchange: str, now: datetime) -> bool:
    """True when this request is the one that sends the pair's "reconcile soon" message.

    Requests within RECONCILE_SOON_SECONDS of the last one share its message, across processes: the
    claim is a conditional update of the pair's row. A row another transaction is claiming right now
    is skipped, not waited for (its message covers this request; waiting could deadlock with it).
    """
    window_start = now - timedelta(seconds=RECONCILE_SOON_SECONDS)
    with transaction.atomic():
        state = (
            ReconcileState.objects.select_for_update(skip_locked=True)
            .filter(customer_id=customer_id, exchange=exchange)
            .only("id", "soon_requested_at")
            .first()
        )
        if state is not None:
            if state.soon_requested_at is not None and state.soon_requested_at > window_start:
                return False
            return bool(
                ReconcileState.objects.filter(pk=state.pk)
                .filter(Q(soon_requested_at__isnull=True) | Q(soon_requested_at__lte=window_start))
                .update(soon_requested_at=now)
            )
    if ReconcileState.objects.filter(customer_id=customer_id, exchange=exchange).exists():
        return False  # locked by a request being claimed right now
    try:
        with transaction.atomic():
            ReconcileState.objects.create(customer_id=customer_id, exchange=exchange, soon_requested_at=now)
    except IntegrityError:
        return False  # another request created it a moment ago, and sends
    return True


def _state_for_update(*, customer_id: uuid.UUID | str, exchange: str) -> ReconcileState:
    state = (
        ReconcileState.objects.select_for_update().filter(customer_id=customer_id, exchange=exchange).first()
    )
    if state is not None:
        return state
    try:
        with transaction.atomic():
            return ReconcileState.objects.create(customer_id=customer_id, exchange=exchange)
    except IntegrityError:
        return ReconcileState.objects.select_for_update().get(customer_id=customer_id, exchange=exchange)


def reconcile_covered(*, customer_id: uuid.UUID | str, exchange: str, since: datetime) -> bool:
    """True when a run started at or after `since`: it read Parsec after anything asked for before then."""
    return ReconcileState.objects.filter(
        customer_id=customer_id, exchange=exchange, reconciled_at__gte=since
    ).exists()
