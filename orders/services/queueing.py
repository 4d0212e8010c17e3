"""The task messages the order services send: by task name, after commit, never importing tasks."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.utils import timezone

from builder_platform import enqueue

# Work that asks for a reconcile of one customer (a lost answer, a fill on arrival, a cancel) waits this
# long, so a burst of such orders shares one reconcile run.
RECONCILE_SOON_SECONDS = 1.0


def order_enqueue_submit(*, order_id: uuid.UUID | str) -> None:
    enqueue.enqueue_on_commit("orders.submit", str(order_id))


def order_enqueue_cancel(*, order_id: uuid.UUID | str) -> None:
    enqueue.enqueue_on_commit("orders.cancel", str(order_id))


def order_enqueue_reconcile(*, customer_id: uuid.UUID | str, exchange: str) -> None:
    """Reconcile this customer soon; requests within a second share one run (beat covers any miss)."""
    if cache.add(f"orders:reconcile-soon:{customer_id}:{exchange}", True, timeout=RECONCILE_SOON_SECONDS):
        enqueue.enqueue_on_commit(
            "orders.reconcile_customer",
            str(customer_id),
            exchange,
            countdown=RECONCILE_SOON_SECONDS,
            args_at_send=_sent_at,
        )


def _sent_at() -> list[str]:
    # The moment the message leaves: a run that started after it covers it.
    return [timezone.now().isoformat()]
