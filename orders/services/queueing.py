"""The task messages the order services send: by task name, after commit, never importing tasks."""

from __future__ import annotations

import uuid

from django.utils import timezone

from builder_platform import enqueue
from orders.services.reconcile_schedule import RECONCILE_SOON_SECONDS, reconcile_soon_claim


def order_enqueue_submit(*, order_id: uuid.UUID | str) -> None:
    enqueue.enqueue_on_commit("orders.submit", str(order_id))


def order_enqueue_cancel(*, order_id: uuid.UUID | str) -> None:
    enqueue.enqueue_on_commit("orders.cancel", str(order_id))


def order_enqueue_reconcile(*, customer_id: uuid.UUID | str, exchange: str) -> None:
    """Reconcile this customer soon; requests within a second share one run (beat covers any miss)."""
    if reconcile_soon_claim(customer_id=customer_id, exchange=exchange, now=timezone.now()):
        enqueue.enqueue_on_commit(
            "orders.reconcile_customer",
            str(customer_id),
            exchange,
            countdown=RECONCILE_SOON_SECONDS,
            args_at_send=_sent_at,
        )


def _sent_at() -> list[str]:
    # The moment the message leaves: a run that started after it covers it (reconcile_covered).
    return [timezone.now().isoformat()]
