"""Submission: one claim wins, Parsec's answer decides the state, retries back off until the deadline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Q
from django.utils import timezone
from orders_support import in_doubt, place, unavailable

from orders import tasks
from orders.models import Order, OrderEvent
from orders.services import deadlines, submission, sweep
from orders.transitions import order_transition
from parsec.client import ParsecRejected
from workers.services import worker_heartbeat_touch

pytestmark = pytest.mark.django_db

S = Order.Status


def submit(order: Order, *, now=None) -> submission.SubmitResult:
    return submission.order_submit(order_id=order.id, now=now or timezone.now())


def history(order: Order) -> list[tuple[str, str, str]]:
    return list(OrderEvent.objects.filter(order=order).values_list("from_status", "to_status", "cause"))


def test_an_accepted_order_takes_parsecs_id_and_status(trader, scripted_parsec, enqueued):
    order = place(trader)
    assert order.status == S.QUEUED

    result = submit(order)

    order.refresh_from_db()
    assert result.outcome == "accepted"
    assert order.status == S.OPEN
    assert order.parsec_order_id == scripted_parsec.orders[trader.customer.parsec_customer_id][0].id
    assert order.submit_attempts == 1
    assert order.sent_at is not None
    assert order.submitting_since is None
    assert history(order) == [
        ("", "queued", "created"),
        ("queued", "submitting", "claimed"),
        ("submitting", "open", "parsec_accepted"),
    ]
    _, call = scripted_parsec.calls[0]
    assert call["customer_id"] == trader.customer.parsec_customer_id
    assert call["body"]["price"] == Decimal("0.01")
    assert call["body"]["params"] == {"order_type": "gtc"}
    assert "fee_auth" not in call["body"]
    assert "payer_address" not in call["body"]


def test_only_one_of_two_submits_sends_the_order(trader, scripted_parsec, enqueued):
    order = place(trader)
    assert submit(order).outcome == "accepted"
    assert submit(order).outcome == "not_claimed"
    assert scripted_parsec.count("create_order") == 1


def test_a_refusal_rejects_the_order_and_keeps_parsecs_reason(trader, scripted_parsec, enqueued):
    scripted_parsec.create_outcomes = [
        ParsecRejected(status=400, code="market_not_found", message="no such market")
    ]
    order = place(trader)

    assert submit(order).outcome == "rejected"

    order.refresh_from_db()
    assert order.status == S.REJECTED
    assert (order.last_error_code, order.last_error_message) == ("market_not_found", "no such market")
    assert order.settled_at is not None


def test_unavailable_parsec_puts_the_order_back_with_a_backoff_honouring_retry_after(
    trader, scripted_parsec, enqueued
):
    scripted_parsec.create_outcomes = [unavailable(retry_after=7)]
    order = place(trader)
    before = timezone.now()

    result = submit(order)

    order.refresh_from_db()
    assert result.outcome == "retry"
    assert order.status == S.QUEUED
    assert order.next_attempt_at >= before + timedelta(seconds=7)
    assert order.last_error_code == "service_unavailable"
    # Not due yet: a second submit does not send it early.
    assert submit(order).outcome == "not_claimed"
    assert scripted_parsec.count("create_order") == 1
    # Once due, it is sent again and accepted.
    assert submit(order, now=order.next_attempt_at).outcome == "accepted"
    order.refresh_from_db()
    assert order.status == S.OPEN
    assert order.submit_attempts == 2


def test_retries_stop_at_the_give_up_time_and_the_order_fails(trader, scripted_parsec, enqueued, settings):
    settings.ORDER_SUBMIT_GIVE_UP_SECONDS = 5
    settings.ORDER_SUBMIT_BACKOFF_BASE_SECONDS = 60.0  # the first retry would fall past the give-up time
    settings.ORDER_SUBMIT_BACKOFF_MAX_SECONDS = 60.0
    scripted_parsec.create_outcomes = [unavailable()]
    order = place(trader)

    result = submit(order)

    order.refresh_from_db()
    assert result.outcome == "failed"
    assert order.status == S.FAILED
    assert order.last_error_code == "service_unavailable"


def test_an_order_found_past_its_give_up_time_fails_without_being_sent(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_SUBMIT_GIVE_UP_SECONDS = 5
    order = place(trader)

    assert submit(order, now=timezone.now() + timedelta(seconds=6)).outcome == "failed"
    assert scripted_parsec.count("create_order") == 0
    assert Order.objects.get(pk=order.pk).status == S.FAILED


def test_an_order_that_waited_with_no_worker_running_fails_saying_no_worker(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_SUBMIT_GIVE_UP_SECONDS = 5
    order = place(trader)
    later = order.created_at + timedelta(seconds=6)
    # The worker that finally picks it up started after the order was created: none ran meanwhile.
    worker_heartbeat_touch(hostname="celery@late", pid=7, now=later, restarted=True)

    assert submit(order, now=later).outcome == "failed"

    order.refresh_from_db()
    assert history(order)[-1] == (S.QUEUED, S.FAILED, "no_worker")
    assert order.last_error_code == "no_worker"
    assert "No worker was running" in order.last_error_message
    assert "ORDER_SUBMIT_GIVE_UP_SECONDS" in order.last_error_message
    assert scripted_parsec.count("create_order") == 0


def test_an_order_that_waited_behind_other_work_while_a_worker_ran_says_so(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_SUBMIT_GIVE_UP_SECONDS = 5
    worker_heartbeat_touch(
        hostname="celery@busy", pid=7, now=timezone.now() - timedelta(seconds=1), restarted=True
    )
    order = place(trader)
    later = order.created_at + timedelta(seconds=6)
    worker_heartbeat_touch(hostname="celery@busy", pid=7, now=later)

    assert submit(order, now=later).outcome == "failed"

    order.refresh_from_db()
    assert history(order)[-1] == (S.QUEUED, S.FAILED, "not_sent_in_time")
    assert "behind other work" in order.last_error_message


def test_a_lost_answer_leaves_the_order_unknown_and_asks_for_reconciliation(
    trader, scripted_parsec, enqueued
):
    scripted_parsec.create_outcomes = [in_doubt()]
    order = place(trader)

    assert submit(order).outcome == "unknown"

    order.refresh_from_db()
    assert order.status == S.UNKNOWN
    assert order.parsec_order_id is None
    assert ("orders.reconcile_customer", (str(trader.customer.id), "kalshi")) in enqueued


def test_an_identical_intent_in_flight_blocks_the_second_claim_until_resolved(
    trader, scripted_parsec, enqueued
):
    scripted_parsec.create_outcomes = [in_doubt()]
    first = place(trader)
    second = place(trader)
    assert submit(first).outcome == "unknown"

    blocked = submit(second)

    second.refresh_from_db()
    assert blocked.outcome == "busy"
    assert second.status == S.QUEUED
    assert second.next_attempt_at > timezone.now()
    assert scripted_parsec.count("create_order") == 1


def test_the_submit_task_schedules_its_own_retry(trader, scripted_parsec, monkeypatch):
    scripted_parsec.create_outcomes = [unavailable(retry_after=3)]
    order = place(trader)
    scheduled = []
    monkeypatch.setattr(
        tasks.order_submit_task, "apply_async", lambda args, countdown: scheduled.append(countdown)
    )

    assert tasks.order_submit_task.run(str(order.id)) == "retry"

    assert len(scheduled) == 1
    assert scheduled[0] >= 2.5


@pytest.mark.parametrize("attempts", [1, 2, 5, 20])
def test_the_backoff_grows_with_jitter_and_never_undercuts_retry_after(settings, attempts):
    settings.ORDER_SUBMIT_BACKOFF_BASE_SECONDS = 1.0
    settings.ORDER_SUBMIT_BACKOFF_MAX_SECONDS = 60.0
    ceiling = min(60.0, 2 ** (attempts - 1))
    delays = [deadlines.submit_backoff_seconds(attempts, None) for _ in range(50)]
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert deadlines.submit_backoff_seconds(attempts, 120.0) == 120.0


def test_the_sweep_requeues_orders_whose_message_was_lost(trader, scripted_parsec, enqueued, settings):
    settings.ORDER_OUTBOX_STALE_SECONDS = 30
    order = place(trader)
    enqueued.clear()
    later = timezone.now() + timedelta(seconds=31)

    report = sweep.orders_outbox_sweep(now=later)
    again = sweep.orders_outbox_sweep(now=later)

    assert report.requeued == 1
    assert again.requeued == 0
    assert enqueued == [("orders.submit", (str(order.id),))]


def test_the_sweep_requeues_no_more_than_its_budget_while_the_queue_is_backed_up(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_OUTBOX_STALE_SECONDS = 30
    orders = [place(trader, price=Decimal("0.3") + index / Decimal(100)) for index in range(3)]
    enqueued.clear()
    later = timezone.now() + timedelta(seconds=31)

    held = sweep.orders_outbox_sweep(now=later, requeue_limit=0)
    one = sweep.orders_outbox_sweep(now=later, requeue_limit=1)
    rest = sweep.orders_outbox_sweep(now=later)

    assert (held.requeued, one.requeued, rest.requeued) == (0, 1, 2)
    assert sorted(args[0] for _, args in enqueued) == sorted(str(order.id) for order in orders)


def test_the_sweep_turns_a_submit_whose_lease_ran_out_into_unknown_never_queued(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_SUBMIT_LEASE_SECONDS = 60
    order = place(trader)
    now = timezone.now()
    # A worker claimed it and died before recording Parsec's answer.
    assert order_transition(
        order_id=order.id,
        from_statuses=[S.QUEUED],
        to_status=S.SUBMITTING,
        cause="claimed",
        now=now,
        submitting_since=now,
    )

    assert sweep.orders_outbox_sweep(now=now + timedelta(seconds=30)).lease_expired == 0
    report = sweep.orders_outbox_sweep(now=now + timedelta(seconds=61))

    order.refresh_from_db()
    assert report.lease_expired == 1
    assert order.status == S.UNKNOWN
    assert history(order)[-1] == ("submitting", "unknown", "lease_expired")


def test_a_claim_respects_its_condition(trader, enqueued):
    order = place(trader)
    later = timezone.now() + timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(next_attempt_at=later)
    claimed = order_transition(
        order_id=order.id,
        from_statuses=[S.QUEUED],
        to_status=S.SUBMITTING,
        cause="claimed",
        now=timezone.now(),
        condition=Q(next_attempt_at__lte=timezone.now()),
    )
    assert claimed is False
    assert Order.objects.get(pk=order.pk).status == S.QUEUED


@pytest.mark.parametrize(
    ("status", "code", "may_be_used", "in_doubt"),
    [
        (400, "bad_request", True, True),  # how Parsec refuses a reused escrow order id, whatever its words
        (409, "conflict", True, True),  # a code the contract does not name: cannot be classified
        (402, "insufficient_funds", True, True),  # the first send may hold the balance
        (404, "market_not_found", True, False),
        (501, "not_supported", True, False),
        (403, "unauthorized", True, False),
        (400, "bad_request", False, False),  # a first send: its escrow id cannot have been used
    ],
)
def test_a_refusal_is_in_doubt_only_when_it_may_be_the_escrow_refusing_a_used_id(
    status, code, may_be_used, in_doubt
):
    assert (
        submission.refusal_may_be_escrow_id_reuse(status=status, code=code, escrow_id_may_be_used=may_be_used)
        is in_doubt
    )
