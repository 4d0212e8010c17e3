"""Submission in batches: many due queued orders claimed in one conditional UPDATE, sent concurrently, and
Parsec's common answer (accepted, resting, nothing filled) recorded for all of them in one transaction.

The per-order path (`submission.order_submit`) spends most of its time in the ORM around one HTTP call:
a worker thread is CPU-bound long before Parsec is busy. Here the claim, its events and the common
answers cost a few statements for the whole batch. Everything else (a refusal, Parsec unavailable, an
answer lost, an answer with fills or final, an order another writer moved meanwhile) is recorded by the
per-order functions, so its outcome is exactly the single path's.

The claim stays a conditional UPDATE (`status = 'queued'` and due), and which orders a batch sends is
what that UPDATE returned: no order is sent by two batches. On PostgreSQL the candidates are read with
FOR UPDATE SKIP LOCKED, so concurrent batches take different orders instead of waiting on each other;
SQLite serialises writers, and the conditional UPDATE alone decides there.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Case, CharField, F, Q, Value, When
from django.db.models.functions import Coalesce

from builder_platform import metrics
from generations.store import generation_snapshot
from halts.selectors import trading_halts_now, trading_stop_for
from orders import event_log, fee_axis
from orders.models import Order, OrderEvent
from orders.returning import order_refresh, orders_update_returning
from orders.services.deadlines import order_give_up_at
from orders.services.parsec_state import answered_at, order_record_accepted, parsec_status_of
from orders.services.queueing import order_enqueue_cancel
from orders.services.submission import (
    SubmitResult,
    _builder_fields,
    _record_in_doubt,
    _record_rejected,
    _record_unavailable,
    _refuse_before_sending,
    order_parsec_body,
    order_submit,
)
from orders.services.transition_fields import error_fields, misses_cleared
from orders.vocabulary import EventCause, SubmitOutcome
from parsec import conf
from parsec.client import Order as ParsecOrder
from parsec.client import ParsecInDoubt, ParsecRejected, ParsecUnavailable

S = Order.Status
_RESTING = frozenset({S.PENDING, S.OPEN})
_BUILDER_FIELDS = ("payer_address", "signer_address", "affiliate")

_senders: tuple[int, ThreadPoolExecutor] | None = None
_senders_lock = threading.Lock()
# Orders this process's batches saw Parsec adopt, whose own messages have not come yet (at most this many).
ADOPTED_REMEMBERED = 10_000


class _AdoptedHere:
    """Ids of orders this process's batches recorded as accepted resting, until their message comes.

    Such an order has its Parsec id and is pending or open: nothing moves it back to queued (only a
    submitting order Parsec could not take, or one in doubt that Parsec never got, is queued again), so
    its own message has nothing to do and is answered from here without reading the order. Any other
    outcome is not remembered: its message reads the order as before. Per process (a forked child
    starts empty), bounded (the oldest are forgotten first: their messages then read the order).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._ids: dict[str, None] = {}

    def add(self, order_ids: list[str]) -> None:
        with self._lock:
            self._forget_if_forked()
            for order_id in order_ids:
                self._ids[order_id] = None
            while len(self._ids) > ADOPTED_REMEMBERED:
                del self._ids[next(iter(self._ids))]

    def take(self, order_id: str) -> bool:
        """Whether this order was adopted by a batch here (forgotten now: one message per order)."""
        with self._lock:
            self._forget_if_forked()
            return self._ids.pop(order_id, _ABSENT) is not _ABSENT

    def _forget_if_forked(self) -> None:
        if self._pid != os.getpid():
            self._pid, self._ids = os.getpid(), {}


_ABSENT = object()
_adopted_here = _AdoptedHere()


@dataclass
class _Claimed:
    order: Order
    give_up_at: datetime
    body: dict[str, Any]
    claimed_at: float  # time.monotonic() of the claim
    answer: ParsecOrder | None = None
    error: BaseException | None = None


def _sender_pool() -> ThreadPoolExecutor:
    """The process's threads for the batches' HTTP calls (no database connection kept between calls)."""
    global _senders
    with _senders_lock:
        if _senders is None or _senders[0] != os.getpid():
            workers = max(1, settings.ORDER_SUBMIT_SEND_THREADS)
            _senders = (os.getpid(), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="order-send"))
        return _senders[1]


def orders_submit_batch(*, order_id: uuid.UUID | str, now: datetime) -> dict[str, SubmitResult]:
    """Submit the order `order_id` names together with up to ORDER_SUBMIT_BATCH_SIZE - 1 other due ones.

    Returns the outcome of every order this call decided, by id; the named order's is always there
    (not_claimed when another batch has it, as for a message whose order was already sent).
    """
    order_key = str(order_id)
    if settings.ORDER_SUBMIT_BATCH_SIZE <= 1:
        return {order_key: order_submit(order_id=order_id, now=now)}
    if _adopted_here.take(order_key):
        return {order_key: SubmitResult(SubmitOutcome.NOT_CLAIMED)}  # a batch of this process sent it
    head = Order.objects.filter(id=order_id).values_list("status", "next_attempt_at").first()
    if head is None or head[0] != S.QUEUED:
        return {order_key: SubmitResult(SubmitOutcome.NOT_CLAIMED)}
    if head[1] is not None and head[1] > now:
        return {order_key: SubmitResult(SubmitOutcome.NOT_CLAIMED, retry_at=head[1])}
    results: dict[str, SubmitResult] = {}
    claimed, one_by_one = _claim_batch(order_id=order_id, now=now, results=results)
    for order in one_by_one:
        results[str(order.id)] = order_submit(order_id=order.id, now=now)
    failure = _send_all(claimed)
    results.update(_record_all([entry for entry in claimed if entry.error is None or _is_parsec(entry)]))
    if failure is not None:
        raise failure
    results.setdefault(order_key, SubmitResult(SubmitOutcome.NOT_CLAIMED))
    return results


def _candidates(*, order_id: uuid.UUID | str, now: datetime) -> list[Order]:
    """The named order first, then the longest-due queued ones; locked rows (another batch's) skipped."""
    size = settings.ORDER_SUBMIT_BATCH_SIZE
    base = Order.objects.select_related("partner", "customer", "fee_authorization")
    if connection.features.has_select_for_update_skip_locked:
        base = base.select_for_update(skip_locked=True, of=("self",))
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    named = list(base.filter(due, id=order_id, status=S.QUEUED))
    others = (
        base.filter(status=S.QUEUED, next_attempt_at__lte=now)
        .exclude(id=order_id)
        .order_by("next_attempt_at")
    )
    return named + list(others[: size - len(named)])


def _claim_batch(
    *, order_id: uuid.UUID | str, now: datetime, results: dict[str, SubmitResult]
) -> tuple[list[_Claimed], list[Order]]:
    """Claim the batch: (what this batch sends, orders to submit one by one instead)."""
    with transaction.atomic():
        ready: list[tuple[Order, datetime]] = []
        candidates = _candidates(order_id=order_id, now=now)
        # Read in the claim's transaction as the single path does, but once for the whole batch.
        halts = trading_halts_now() if candidates else ()
        for order in candidates:
            give_up_at = order_give_up_at(order)
            refused = _refuse_before_sending(order, now=now, give_up_at=give_up_at)
            if refused is not None:
                results[str(order.id)] = refused
            elif trading_stop_for(
                exchange=order.exchange, partner=order.partner, customer=order.customer, halts=halts
            ):
                results[str(order.id)] = SubmitResult(SubmitOutcome.HELD)  # as the single path: no retry
            else:
                ready.append((order, give_up_at))
        if not ready:
            return [], []
        try:
            with transaction.atomic():
                rows = _claim_update([order for order, _ in ready], now=now)
        except IntegrityError:
            # An identical intent of a customer is in flight: the single path claims each and says which.
            return [], [order for order, _ in ready]
    by_id = {row.id: row for row in rows}
    claimed = []
    for order, give_up_at in ready:
        row = by_id.get(order.id)
        if row is None:
            results[str(order.id)] = SubmitResult(SubmitOutcome.NOT_CLAIMED)  # another writer moved it
            continue
        order_refresh(order, row)
        metrics.order_transitioned(from_status=S.QUEUED, to_status=S.SUBMITTING)
        claimed.append(
            _Claimed(
                order=order, give_up_at=give_up_at, body=order_parsec_body(order), claimed_at=time.monotonic()
            )
        )
    return claimed, []


def _claim_update(orders: list[Order], *, now: datetime) -> list[Order]:
    """The one conditional UPDATE of the claim, its events in one INSERT; the rows it moved."""
    rows = orders_update_returning(
        Order.objects.filter(id__in=[order.id for order in orders], status=S.QUEUED).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        ),
        status=S.SUBMITTING,
        updated_at=now,
        version=F("version") + 1,
        submitting_since=now,
        submit_attempts=F("submit_attempts") + 1,
        sent_at=Coalesce(F("sent_at"), Value(now)),
        **_builder_cases(orders),
    )
    OrderEvent.objects.bulk_create(
        [
            OrderEvent(
                order_id=row.id,
                from_status=S.QUEUED,
                to_status=S.SUBMITTING,
                cause=EventCause.CLAIMED,
                detail={"attempt": row.submit_attempts},
                created_at=now,
            )
            for row in rows
        ]
    )
    return rows


def _builder_cases(orders: list[Order]) -> dict[str, Case]:
    """Each fee-bearing order's builder fields (as the single claim writes them), others unchanged."""
    per_order = [(order.id, _builder_fields(order)) for order in orders if order.fee_authorization_id]
    cases = {}
    for name in _BUILDER_FIELDS:
        whens = [When(id=id_, then=Value(fields[name])) for id_, fields in per_order if name in fields]
        if whens:
            cases[name] = Case(*whens, default=F(name), output_field=CharField())
    return cases


def _send(entry: _Claimed, client: Any) -> None:
    if time.monotonic() - entry.claimed_at > settings.ORDER_SUBMIT_LEASE_SECONDS / 2:
        # Waited for a sending thread so long that the sweep may soon take the claim for a dead worker's:
        # not sent, so nothing happened, and the order goes back to the queue like after a 503.
        entry.error = ParsecUnavailable(
            status=None, code="not_sent_in_time", message="No thread was free to send the order in time."
        )
        return
    try:
        entry.answer = client.create_order(
            exchange=entry.order.exchange,
            customer_id=entry.order.customer.parsec_customer_id,
            body=entry.body,
        )
    except BaseException as error:  # noqa: BLE001 - kept for the recording thread, which re-raises others
        entry.error = error
    finally:
        # The embedded mode's shared Parsec budget is a table: a connection the call opened in this
        # sending thread is closed now, so a worker holds no more connections than its task threads.
        connections.close_all()


def _is_parsec(entry: _Claimed) -> bool:
    return isinstance(entry.error, ParsecRejected | ParsecUnavailable | ParsecInDoubt)


def _send_all(claimed: list[_Claimed]) -> BaseException | None:
    """Send every claimed order at once; the first failure that is not Parsec's answer, to raise later.

    An order whose send failed so is left submitting, as the single path leaves it: its lease runs
    out and reconciliation finds out whether it reached Parsec.
    """
    if not claimed:
        return None
    client = conf.get_client()
    pool = _sender_pool()
    for future in [pool.submit(_send, entry, client) for entry in claimed]:
        future.result()
    return next((entry.error for entry in claimed if entry.error is not None and not _is_parsec(entry)), None)


def _resting(entry: _Claimed) -> bool:
    answer = entry.answer
    return answer is not None and parsec_status_of(answer) in _RESTING and answer.filled <= 0


def _record_all(claimed: list[_Claimed]) -> dict[str, SubmitResult]:
    results: dict[str, SubmitResult] = {}
    common = [entry for entry in claimed if _resting(entry)]
    recorded = _record_resting(common) if common else set()
    for entry in claimed:
        if entry.order.id not in recorded:
            results[str(entry.order.id)] = _record_one(entry)
        else:
            results[str(entry.order.id)] = SubmitResult(SubmitOutcome.ACCEPTED)
    return results


def _record_one(entry: _Claimed) -> SubmitResult:
    """The single path's recording of one answer (submission.order_submit after its send)."""
    order, error = entry.order, entry.error
    if isinstance(error, ParsecRejected):
        return _record_rejected(order=order, error=error)
    if isinstance(error, ParsecUnavailable):
        return _record_unavailable(order=order, error=error, give_up_at=entry.give_up_at)
    if isinstance(error, ParsecInDoubt):
        return _record_in_doubt(order=order, cause=EventCause.ANSWER_LOST, message=error.message)
    answer = entry.answer
    order_record_accepted(order=order, answer=answer, from_statuses=[S.SUBMITTING]) or order_record_accepted(
        order=order, answer=answer, from_statuses=[S.UNKNOWN]
    )
    return SubmitResult(SubmitOutcome.ACCEPTED)


def _record_resting(common: list[_Claimed]) -> set[uuid.UUID]:
    """Parsec accepted these and they rest unfilled: adopt them all in one transaction (ids recorded).

    The same writes as `order_record_accepted` for each: one conditional UPDATE (still submitting, no
    Parsec id yet), its events, the fee in escrow, a cancel asked meanwhile queued.
    """
    now = answered_at()
    entries = {entry.order.id: entry for entry in common}
    try:
        # One moment, like one request: the read caches' generation (each event's webhook endpoints)
        # is read once for the whole batch instead of once per order.
        with generation_snapshot(), transaction.atomic():
            rows = orders_update_returning(
                Order.objects.filter(id__in=list(entries), status=S.SUBMITTING, parsec_order_id__isnull=True),
                status=Case(
                    *[When(id=id_, then=Value(parsec_status_of(e.answer))) for id_, e in entries.items()],
                    output_field=CharField(),
                ),
                parsec_order_id=Case(
                    *[When(id=id_, then=Value(e.answer.id)) for id_, e in entries.items()],
                    output_field=CharField(),
                ),
                updated_at=now,
                version=F("version") + 1,
                filled=Decimal(0),
                submitting_since=None,
                next_attempt_at=None,
                **misses_cleared(),
                **error_fields("", ""),
            )
            OrderEvent.objects.bulk_create(
                [
                    OrderEvent(
                        order_id=row.id,
                        from_status=S.SUBMITTING,
                        to_status=row.status,
                        cause=EventCause.PARSEC_ACCEPTED,
                        detail={
                            "parsec_order_id": entries[row.id].answer.id,
                            "parsec_status": entries[row.id].answer.status,
                        },
                        created_at=now,
                    )
                    for row in rows
                ]
            )
            for row in rows:
                order_refresh(entries[row.id].order, row)
            adopted = [entries[row.id].order for row in rows]
            event_log.orders_status_changed(
                changes=[(order, S.SUBMITTING, order.status) for order in adopted], now=now
            )
            for order in adopted:
                metrics.order_transitioned(from_status=S.SUBMITTING, to_status=order.status)
                fee_axis.fee_accepted(fee_authorization=order.fee_authorization, now=now)
                if order.cancel_requested_at is not None:
                    # As the UPDATE returned it: asked while the create was on its way.
                    order_enqueue_cancel(order_id=order.id)
            adopted_ids = [str(order.id) for order in adopted]
            # Remembered once committed: the other orders' messages may then be answered from memory.
            transaction.on_commit(lambda: _adopted_here.add(adopted_ids))
    except IntegrityError:
        return set()  # e.g. a Parsec id already known: each one alone, as the single path would
    return {order.id for order in adopted}
