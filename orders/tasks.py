"""Order work as Celery tasks: submit, cancel, reconcile (beat fan-out and per customer), sweep, purge."""

from __future__ import annotations

import logging
import random
import threading
from datetime import datetime, timedelta

from celery import Task, current_app, shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import ChannelError, OperationalError

from orders.services import cancel, dead_man_switch, reconcile, reconcile_schedule, submission_batch, sweep
from orders.vocabulary import SUBMIT_RETRY_OUTCOMES
from parsec.client import ParsecError, ParsecInDoubt, ParsecRejected, ParsecUnavailable

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
# A pair queued for reconciliation this long ago and still not run is queued again (its message was lost).
# Generous: under load a full pass over every customer may take minutes, and copies would only add to it.
RECONCILE_PRESUMED_LOST = timedelta(minutes=5)
CANCEL_MAX_RETRIES = 8
CANCEL_RETRY_BASE_SECONDS = 1.0
CANCEL_RETRY_MAX_SECONDS = 60.0
# A reconcile run over this process's ORDER_RECONCILE_CONCURRENCY is queued again this much later.
RECONCILE_DEFER_SECONDS = 1.0


@shared_task(name="orders.submit")
def order_submit_task(order_id: str) -> str:
    """Submit this order, with a batch of other due ones (their own messages then find them claimed)."""
    results = submission_batch.orders_submit_batch(order_id=order_id, now=timezone.now())
    result = results[str(order_id)]
    # One line per attempt; the log context names the order, the task and the request that queued it.
    logger.info("order submit attempt: %s", result.outcome)
    if len(results) > 1:
        logger.info("order submit batch: %d orders decided with it", len(results) - 1)
    for retried_id, retried in results.items():
        if retried.retry_at is not None and retried.outcome in SUBMIT_RETRY_OUTCOMES:
            # The row keeps next_attempt_at, so the sweep catches this message if it is lost.
            countdown = max(0.0, (retried.retry_at - timezone.now()).total_seconds())
            order_submit_task.apply_async(args=[retried_id], countdown=countdown)
    return str(result.outcome)


@shared_task(name="orders.cancel", bind=True, max_retries=CANCEL_MAX_RETRIES)
def order_cancel_task(self: Task, order_id: str) -> str:
    try:
        return str(cancel.order_cancel_at_parsec(order_id=order_id, now=timezone.now()))
    # Unavailable: nothing happened. In doubt: the cancel may have happened; sending it again is safe,
    # since a cancel of an order already cancelled is refused and then reconciled.
    except (ParsecUnavailable, ParsecInDoubt) as error:
        raise self.retry(exc=error, countdown=_cancel_countdown(self.request.retries, error)) from None


def _cancel_countdown(retries: int, error: ParsecError) -> float:
    ceiling = min(CANCEL_RETRY_MAX_SECONDS, CANCEL_RETRY_BASE_SECONDS * 2**retries)
    return max(random.uniform(ceiling / 2, ceiling), getattr(error, "retry_after", None) or 0.0)


@shared_task(name="orders.reconcile")
def orders_reconcile_task() -> int:
    """Beat: one reconcile_customer task per (customer, exchange) with something to reconcile.

    A pair whose previous run is still waiting in the queue is not queued again, so a backlog never grows
    by copies, and the least recently reconciled pairs go first.
    """
    now = timezone.now()
    pairs = reconcile_schedule.reconcile_fan_out(now=now, stale_after=RECONCILE_PRESUMED_LOST)
    for customer_id, exchange in pairs:
        order_reconcile_customer_task.apply_async(args=[str(customer_id), exchange, now.isoformat()])
    return len(pairs)


class _ReconcileSlots:
    """At most ORDER_RECONCILE_CONCURRENCY reconcile runs at once in this process (read at each take)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0

    def take(self) -> bool:
        with self._lock:
            if self.running >= max(1, settings.ORDER_RECONCILE_CONCURRENCY):
                return False
            self.running += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self.running -= 1


reconcile_slots = _ReconcileSlots()


@shared_task(name="orders.reconcile_customer")
def order_reconcile_customer_task(customer_id: str, exchange: str, queued_at: str | None = None) -> dict:
    now = timezone.now()
    pair = {"customer_id": customer_id, "exchange": exchange}
    if queued_at and reconcile_schedule.reconcile_covered(**pair, since=datetime.fromisoformat(queued_at)):
        return {"covered": True}  # a run that started after this was queued already read Parsec
    if reconcile_schedule.reconcile_backing_off(**pair, now=now):
        return {"backing_off": True}  # Parsec refused this pair's listing; beat tries again later
    taken = reconcile_slots.take()
    if not taken and not order_reconcile_customer_task.request.is_eager:
        # This process already reads Parsec for as many pairs as it may: the run waits on the queue,
        # not on a thread that a create or a cancel could use. The pair stays marked queued. (A run
        # executed in place, eagerly, inside another goes ahead: deferring it would run it again at once.)
        order_reconcile_customer_task.apply_async(
            args=[customer_id, exchange, queued_at], countdown=RECONCILE_DEFER_SECONDS
        )
        return {"deferred": True}
    try:
        return _reconcile_run(pair, now=now)
    finally:
        if taken:
            reconcile_slots.give_back()


def _reconcile_run(pair: dict, *, now: datetime) -> dict:
    customer_id, exchange = pair["customer_id"], pair["exchange"]
    try:
        report = reconcile.reconcile_customer_exchange(**pair, now=now)
    except (ParsecUnavailable, ParsecInDoubt) as error:
        # A read that failed changed nothing; the next beat pass tries again.
        logger.warning("reconcile of %s on %s skipped: %s", customer_id, exchange, error)
        reconcile_schedule.reconcile_done(**pair, now=now)
        return {"skipped": True}
    except ParsecRejected as error:
        # Final for now (a key or an end-user Parsec refuses): recorded and backed off, one log line.
        reconcile_schedule.reconcile_refused(**pair, error=error, now=now)
        return {"refused": True}
    except BaseException:
        reconcile_schedule.reconcile_done(**pair, now=now)
        raise
    reconcile_schedule.reconcile_done(**pair, now=now, succeeded=True)
    return {"orders": report.orders, "adopted": report.adopted, "new_fills": report.new_fills}


def submission_queue_depth() -> int:
    """Messages waiting in the submission queue; 0 when the broker cannot say."""
    try:
        with current_app.connection_for_read() as connection:
            return int(
                connection.default_channel.queue_declare(queue="submission", passive=True).message_count
            )
    except (OperationalError, ChannelError, OSError):  # broker trouble only means "do not know"
        return 0


@shared_task(name="orders.sweep_outbox")
def orders_sweep_outbox_task() -> dict:
    # While messages wait in the queue, orders that look stale are most likely behind them, not lost.
    requeue_limit = max(0, SWEEP_BATCH - submission_queue_depth())
    report = sweep.orders_outbox_sweep(now=timezone.now(), limit=SWEEP_BATCH, requeue_limit=requeue_limit)
    if report.requeued or report.lease_expired or report.expired_fee_auth:
        logger.info("order outbox sweep: %s", report)
    return {
        "requeued": report.requeued,
        "lease_expired": report.lease_expired,
        "expired_fee_auth": report.expired_fee_auth,
    }


@shared_task(name="orders.purge_idempotency_keys")
def idempotency_keys_purge_task() -> int:
    return sweep.idempotency_keys_purge(now=timezone.now())


@shared_task(name="orders.fire_dead_man_switches")
def dead_man_switches_fire_task() -> int:
    """Beat: cancel the live orders of every partner whose heartbeats stopped past their deadline."""
    return dead_man_switch.dead_man_switches_fire(now=timezone.now())
