"""A pair whose order listing Parsec refuses for good is recorded, backed off, logged once, shown in admin."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from orders_support import place

from orders import tasks
from orders.models import ReconcileState
from orders.services import reconcile_schedule, submission
from parsec.client import ParsecRejected

pytestmark = pytest.mark.django_db


def refuse_listings(scripted_parsec) -> list[int]:
    calls = []

    def refused(**kwargs):
        calls.append(1)
        raise ParsecRejected(status=403, code="unauthorized", message="end-user not found or not owned")

    scripted_parsec.list_orders = refused
    return calls


def test_a_refused_listing_is_recorded_backed_off_and_logged_in_one_line(
    trader, scripted_parsec, enqueued, caplog, settings
):
    settings.ORDER_RECONCILE_INTERVAL_SECONDS = 5
    submission.order_submit(order_id=place(trader).id, now=timezone.now())
    calls = refuse_listings(scripted_parsec)
    customer_id = str(trader.customer.id)

    with caplog.at_level(logging.WARNING, logger="orders"):
        result = tasks.order_reconcile_customer_task.run(customer_id, "kalshi")

    assert result == {"refused": True}
    state = ReconcileState.objects.get(customer=trader.customer, exchange="kalshi")
    assert (state.refusals, state.last_error_code) == (1, "unauthorized")
    assert "not owned" in state.last_error_message
    assert timedelta(seconds=4) < state.retry_at - state.refused_at <= timedelta(seconds=5)
    records = [record for record in caplog.records if "refused by Parsec" in record.getMessage()]
    assert len(records) == 1  # one line,
    assert records[0].exc_info is None  # without a traceback
    # While it backs off, neither beat nor a "reconcile soon" message asks Parsec again.
    assert reconcile_schedule.reconcile_fan_out(now=timezone.now(), stale_after=timedelta(0)) == []
    assert tasks.order_reconcile_customer_task.run(customer_id, "kalshi") == {"backing_off": True}
    assert len(calls) == 1


def test_the_backoff_doubles_per_refusal_up_to_its_cap_and_a_success_clears_it(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_INTERVAL_SECONDS = 5
    error = ParsecRejected(status=403, code="unauthorized", message="no")
    now = timezone.now()
    pair = {"customer_id": trader.customer.id, "exchange": "kalshi"}
    waits = []
    for _ in range(12):
        state = reconcile_schedule.reconcile_refused(**pair, error=error, now=now)
        waits.append((state.retry_at - now).total_seconds())
    assert waits[:4] == [5, 10, 20, 40]
    assert waits[-1] == reconcile_schedule.RECONCILE_REFUSED_MAX_BACKOFF.total_seconds()

    submission.order_submit(order_id=place(trader).id, now=timezone.now())
    later = state.retry_at + timedelta(seconds=1)
    assert reconcile_schedule.reconcile_fan_out(now=later, stale_after=timedelta(0)) == [
        (trader.customer.id, "kalshi")
    ]
    # Its next try comes (as if an hour had passed) and Parsec answers again.
    ReconcileState.objects.filter(pk=state.pk).update(retry_at=timezone.now() - timedelta(seconds=1))
    tasks.order_reconcile_customer_task.run(str(trader.customer.id), "kalshi")
    state.refresh_from_db()
    assert (state.refusals, state.last_error_code, state.retry_at) == (0, "", None)


def test_the_admin_lists_refused_pairs_with_parsecs_reason(admin_client, trader, scripted_parsec, enqueued):
    reconcile_schedule.reconcile_refused(
        customer_id=trader.customer.id,
        exchange="kalshi",
        error=ParsecRejected(status=403, code="unauthorized", message="end-user not found or not owned"),
        now=timezone.now(),
    )

    response = admin_client.get("/admin/orders/reconcilestate/?refused=yes")

    assert response.status_code == 200
    page = response.content.decode()
    assert "end-user not found or not owned" in page
    assert "unauthorized" in page
