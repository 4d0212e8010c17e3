"""The "reconcile soon" debounce holds across processes: it lives in the database row, not a local cache."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from orders_support import make_trader

from orders.models import ReconcileState
from orders.services import queueing, reconcile_schedule

pytestmark = pytest.mark.django_db


def reconcile_messages(enqueued) -> list[tuple]:
    return [args for name, args in enqueued if name == "orders.reconcile_customer"]


def test_requests_within_the_window_share_one_message_even_from_another_process(trader, enqueued):
    queueing.order_enqueue_reconcile(customer_id=trader.customer.id, exchange="kalshi")
    # Another process does not share this one's cache: forget everything kept in it.
    cache.clear()
    queueing.order_enqueue_reconcile(customer_id=trader.customer.id, exchange="kalshi")

    assert reconcile_messages(enqueued) == [(str(trader.customer.id), "kalshi")]
    assert ReconcileState.objects.get(customer=trader.customer).soon_requested_at is not None


def test_a_request_after_the_window_sends_again_and_pairs_do_not_share(trader, enqueued):
    other = make_trader()
    queueing.order_enqueue_reconcile(customer_id=trader.customer.id, exchange="kalshi")
    queueing.order_enqueue_reconcile(customer_id=other.customer.id, exchange="kalshi")
    queueing.order_enqueue_reconcile(customer_id=trader.customer.id, exchange="polymarket")
    assert len(reconcile_messages(enqueued)) == 3

    window = reconcile_schedule.RECONCILE_SOON_SECONDS
    state = ReconcileState.objects.get(customer=trader.customer, exchange="kalshi")
    ReconcileState.objects.filter(pk=state.pk).update(
        soon_requested_at=state.soon_requested_at - timedelta(seconds=window + 0.1)
    )
    queueing.order_enqueue_reconcile(customer_id=trader.customer.id, exchange="kalshi")
    assert len(reconcile_messages(enqueued)) == 4
