"""The Celery side: task names and routes, the beat schedule, the reconcile fan-out, sweep and purge."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from orders_support import in_doubt, make_trader, place, unavailable

from builder_platform.celery import app
from orders import tasks
from orders.models import IdempotencyKey, Order, ReconcileState
from orders.services import reconcile_schedule, submission
from orders.services.reconcile_report import ReconcileReport

S = Order.Status


def test_every_order_task_has_its_stable_name_and_queue():
    app.loader.import_default_modules()
    router = app.amqp.router
    expected = {
        "orders.submit": "submission",
        "orders.sweep_outbox": "submission",
        "orders.cancel": "cancel",
        "orders.reconcile": "reconciliation",
        "orders.reconcile_customer": "reconciliation",
        "orders.purge_idempotency_keys": "default",
    }
    for name, queue in expected.items():
        assert name in app.tasks, name
        assert router.route({}, name)["queue"].name == queue, name


def test_beat_runs_the_sweep_reconciliation_and_purge():
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"orders.sweep_outbox", "orders.reconcile", "orders.purge_idempotency_keys"} <= tasks_scheduled
    reconcile = next(
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "orders.reconcile"
    )
    assert reconcile["schedule"] == settings.ORDER_RECONCILE_INTERVAL_SECONDS


@pytest.mark.django_db
def test_the_beat_fan_out_queues_each_pair_once_until_its_run_has_happened(
    tradable_exchanges, scripted_parsec, enqueued, monkeypatch
):
    first, second = make_trader(), make_trader()
    for trader in (first, second):
        submission.order_submit(order_id=place(trader).id, now=timezone.now())
    sent = []
    monkeypatch.setattr(
        tasks.order_reconcile_customer_task, "apply_async", lambda args: sent.append(tuple(args[:2]))
    )

    assert tasks.orders_reconcile_task.run() == 2
    assert tasks.orders_reconcile_task.run() == 0  # both still waiting in the queue: no copies
    tasks.order_reconcile_customer_task.run(str(first.customer.id), "kalshi")
    assert tasks.orders_reconcile_task.run() == 1  # only the pair whose run happened goes again

    pairs = [(str(first.customer.id), "kalshi"), (str(second.customer.id), "kalshi")]
    assert sorted(sent[:2]) == sorted(pairs)
    assert sent[2:] == [pairs[0]]


@pytest.mark.django_db
def test_a_queued_pair_whose_message_was_lost_is_queued_again_after_a_while(
    trader, scripted_parsec, enqueued
):
    submission.order_submit(order_id=place(trader).id, now=timezone.now())
    now = timezone.now()
    stale = timedelta(seconds=60)
    assert reconcile_schedule.reconcile_fan_out(now=now, stale_after=stale) == [
        (trader.customer.id, "kalshi")
    ]
    assert reconcile_schedule.reconcile_fan_out(now=now + timedelta(seconds=30), stale_after=stale) == []
    assert reconcile_schedule.reconcile_fan_out(now=now + timedelta(seconds=61), stale_after=stale) == [
        (trader.customer.id, "kalshi")
    ]


@pytest.mark.django_db
def test_the_reconcile_task_skips_quietly_when_parsec_cannot_be_read(trader, scripted_parsec, enqueued):
    submission.order_submit(order_id=place(trader).id, now=timezone.now())

    def down(**kwargs):
        raise unavailable()

    scripted_parsec.list_orders = down
    assert tasks.order_reconcile_customer_task.run(str(trader.customer.id), "kalshi") == {"skipped": True}


@pytest.mark.django_db
def test_the_cancel_task_retries_when_parsec_is_unavailable(trader, scripted_parsec, enqueued, monkeypatch):
    from celery.exceptions import Retry

    order = place(trader)
    submission.order_submit(order_id=order.id, now=timezone.now())
    scripted_parsec.cancel_outcomes = [unavailable(retry_after=2)]
    retried = []

    def retry(exc, countdown):
        retried.append(countdown)
        return Retry()

    monkeypatch.setattr(tasks.order_cancel_task, "retry", retry)
    with pytest.raises(Retry):
        tasks.order_cancel_task.run(str(order.id))
    assert retried
    assert retried[0] >= 2
    assert Order.objects.get(pk=order.pk).status == S.OPEN


@pytest.mark.django_db
def test_the_sweep_and_purge_tasks_run_their_services(trader, scripted_parsec, enqueued):
    scripted_parsec.create_outcomes = [in_doubt()]
    order = place(trader)
    submission.order_submit(order_id=order.id, now=timezone.now())
    IdempotencyKey.objects.create(
        partner=trader.partner, key="old", fingerprint="x", created_at=timezone.now() - timedelta(days=2)
    )

    assert tasks.orders_sweep_outbox_task.run() == {"requeued": 0, "lease_expired": 0, "expired_fee_auth": 0}
    assert tasks.idempotency_keys_purge_task.run() == 1
    assert Order.objects.get(pk=order.pk).status == S.UNKNOWN


@pytest.mark.django_db
def test_the_sweep_holds_back_while_the_submission_queue_is_backed_up(
    trader, scripted_parsec, enqueued, settings, monkeypatch
):
    settings.ORDER_OUTBOX_STALE_SECONDS = 0
    order = place(trader)
    enqueued.clear()

    monkeypatch.setattr(tasks, "submission_queue_depth", lambda: tasks.SWEEP_BATCH)
    assert tasks.orders_sweep_outbox_task.run()["requeued"] == 0
    assert enqueued == []

    monkeypatch.setattr(tasks, "submission_queue_depth", lambda: 0)
    assert tasks.orders_sweep_outbox_task.run()["requeued"] == 1
    assert enqueued == [("orders.submit", (str(order.id),))]


def test_the_submission_queue_depth_is_read_from_the_broker():
    app.loader.import_default_modules()
    submission = next(queue for queue in app.conf.task_queues if queue.name == "submission")
    with app.connection_for_write() as connection:
        queue = submission.bind(connection.default_channel)
        queue.declare()
        queue.purge()
        try:
            for _ in range(3):
                # Orders that do not exist: a worker that ever picks these up finds nothing to claim.
                tasks.order_submit_task.apply_async(args=[str(uuid.uuid4())], connection=connection)
            assert tasks.submission_queue_depth() == 3
        finally:
            queue.purge()
    assert tasks.submission_queue_depth() == 0


@pytest.mark.django_db
def test_an_older_run_finishing_last_does_not_leave_a_pair_queued_since_looking_still_waiting(
    trader, scripted_parsec, enqueued
):
    submission.order_submit(order_id=place(trader).id, now=timezone.now())
    pair = {"customer_id": trader.customer.id, "exchange": "kalshi"}
    t0 = timezone.now()
    assert reconcile_schedule.reconcile_fan_out(now=t0, stale_after=timedelta(seconds=1)) == [
        tuple(pair.values())
    ]
    # Run A starts at t0+1; at t0+2 the pair is queued again; run B starts at t0+3 and ends first.
    requeued = reconcile_schedule.reconcile_fan_out(
        now=t0 + timedelta(seconds=2), stale_after=timedelta(seconds=1)
    )
    assert requeued == [tuple(pair.values())]
    reconcile_schedule.reconcile_done(**pair, now=t0 + timedelta(seconds=3), succeeded=True)
    reconcile_schedule.reconcile_done(**pair, now=t0 + timedelta(seconds=1))  # run A ends last

    state = ReconcileState.objects.get(customer=trader.customer, exchange="kalshi")
    assert state.reconciled_at == t0 + timedelta(seconds=3)
    later = t0 + timedelta(seconds=4)
    assert reconcile_schedule.reconcile_fan_out(now=later, stale_after=timedelta(minutes=5)) == [
        tuple(pair.values())
    ]


@pytest.mark.django_db
def test_a_reconcile_run_over_the_process_cap_goes_back_on_the_queue_without_reading_parsec(
    trader, scripted_parsec, enqueued, monkeypatch, settings
):
    settings.ORDER_RECONCILE_CONCURRENCY = 1
    submission.order_submit(order_id=place(trader).id, now=timezone.now())
    requeued = []
    monkeypatch.setattr(
        tasks.order_reconcile_customer_task,
        "apply_async",
        lambda args, countdown: requeued.append((tuple(args), countdown)),
    )
    reads = []
    monkeypatch.setattr(tasks.reconcile, "reconcile_customer_exchange", lambda **pair: reads.append(pair))
    args = (str(trader.customer.id), "kalshi", None)

    assert tasks.reconcile_slots.take()  # another thread of this process is reconciling
    try:
        assert tasks.order_reconcile_customer_task.run(*args) == {"deferred": True}
    finally:
        tasks.reconcile_slots.give_back()
    assert reads == []
    assert requeued == [(args, tasks.RECONCILE_DEFER_SECONDS)]

    monkeypatch.setattr(
        tasks.reconcile,
        "reconcile_customer_exchange",
        lambda **pair: reads.append(pair) or ReconcileReport(),
    )
    assert "deferred" not in tasks.order_reconcile_customer_task.run(*args)  # the slot is free again
    assert reads == [{"customer_id": args[0], "exchange": "kalshi", "now": reads[0]["now"]}]
    assert tasks.reconcile_slots.running == 0
