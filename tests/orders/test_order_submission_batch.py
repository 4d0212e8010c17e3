"""Submission in batches: one claim for many orders, each sent once, each answer recorded as alone."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from orders_support import ScriptedParsec, in_doubt, make_trader, place, unavailable

from events.models import Event
from orders import tasks
from orders.models import Order, OrderEvent
from orders.services import submission, submission_batch
from parsec.client import ParsecRejected, decode_json

S = Order.Status
# What Parsec does with each order of the mixed batch, by the last digit of its size.
MIXED = {
    1: ParsecRejected(status=400, code="invalid_price", message="price out of range"),
    2: unavailable(retry_after=2),
    3: in_doubt(),
    4: None,
    5: None,
    6: "filled",
}


class ParsecBySize(ScriptedParsec):
    """The scripted Parsec, answering by the order's size (batches send in no fixed order)."""

    def __init__(self, outcomes: dict[int, object]) -> None:
        super().__init__()
        self.by_size = outcomes
        self.lock = threading.Lock()

    def create_order(self, *, exchange: str, customer_id: str, body: dict):
        outcome = self.by_size.get(int(Decimal(body["size"])) % 10)
        with self.lock:
            self.fill_status = "open"
            self.create_outcomes = [] if outcome in (None, "filled") else [outcome]
            answer = super().create_order(exchange=exchange, customer_id=customer_id, body=body)
        if outcome == "filled":
            return type(answer)(**{**answer.__dict__, "status": "filled", "filled": answer.size})
        return answer


@pytest.fixture
def parsec_by_size(monkeypatch):
    from parsec import conf

    parsec = ParsecBySize(MIXED)
    monkeypatch.setattr(conf, "get_client", lambda: parsec)
    return parsec


def _what_happened(order: Order) -> dict:
    """The order's outcome without what differs between two runs (ids, times, its size)."""
    order.refresh_from_db()
    events = []
    for event in Event.objects.filter(object_id=str(order.id)).order_by("created_at", "id"):
        data = decode_json(event.body)["data"]
        for key in ("id", "created_at", "updated_at", "parsec_order_id", "size", "filled"):
            data.pop(key, None)
        events.append((event.type, event.version, data))
    return {
        "status": order.status,
        "attempts": order.submit_attempts,
        "has_parsec_id": order.parsec_order_id is not None,
        "filled_all": order.filled == order.size,
        "error": order.last_error_code,
        "retry_later": order.next_attempt_at is not None and order.next_attempt_at > order.updated_at,
        "history": [
            (from_status, to_status, cause, sorted(detail))
            for from_status, to_status, cause, detail in OrderEvent.objects.filter(order=order)
            .order_by("created_at", "id")
            .values_list("from_status", "to_status", "cause", "detail")
        ],
        "events": events,
    }


@pytest.mark.django_db
def test_a_mixed_batch_records_each_answer_exactly_as_the_single_path(
    trader, parsec_by_size, enqueued, settings
):
    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    batched = [place(trader, size=Decimal(10 + digit)) for digit in MIXED]

    results = submission_batch.orders_submit_batch(order_id=batched[0].id, now=timezone.now())

    assert {str(order.id) for order in batched} == set(results)
    assert parsec_by_size.count("create_order") == len(MIXED)
    single = [place(trader, size=Decimal(20 + digit)) for digit in MIXED]
    single_results = [submission.order_submit(order_id=order.id, now=timezone.now()) for order in single]

    assert [results[str(order.id)].outcome for order in batched] == [r.outcome for r in single_results]
    assert [r.outcome for r in single_results] == [
        "rejected", "retry", "unknown", "accepted", "accepted", "accepted"
    ]  # fmt: skip
    for batch_order, single_order in zip(batched, single, strict=True):
        assert _what_happened(batch_order) == _what_happened(single_order)
    statuses = Order.objects.filter(id__in=[o.id for o in batched]).order_by("size").values_list("status")
    assert [status for (status,) in statuses] == [S.REJECTED, S.QUEUED, S.UNKNOWN, S.OPEN, S.OPEN, S.FILLED]
    # The retry of the order Parsec could not take is scheduled by its batch's task, as the single one's.
    assert results[str(batched[1].id)].retry_at is not None


@pytest.mark.django_db
def test_a_message_whose_order_another_batch_sent_does_nothing(trader, parsec_by_size, enqueued, settings):
    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    first, second = place(trader, size=Decimal("14")), place(trader, size=Decimal("15"))
    assert tasks.order_submit_task(str(first.id)) == "accepted"
    assert parsec_by_size.count("create_order") == 2
    events_before = OrderEvent.objects.count(), Event.objects.count()

    assert tasks.order_submit_task(str(second.id)) == "not_claimed"

    assert parsec_by_size.count("create_order") == 2
    assert (OrderEvent.objects.count(), Event.objects.count()) == events_before
    second.refresh_from_db()
    assert second.status == S.OPEN
    assert second.submit_attempts == 1


@pytest.mark.django_db
def test_a_message_whose_order_a_batch_here_adopted_is_answered_without_reading_it(
    trader, parsec_by_size, enqueued, settings, django_capture_on_commit_callbacks
):
    from django.test.utils import CaptureQueriesContext

    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    first, second = place(trader, size=Decimal("14")), place(trader, size=Decimal("15"))
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.order_submit_task(str(first.id)) == "accepted"
    second.refresh_from_db()
    assert second.status == S.OPEN

    with CaptureQueriesContext(connection) as queries:
        assert tasks.order_submit_task(str(second.id)) == "not_claimed"

    assert queries.captured_queries == []
    assert parsec_by_size.count("create_order") == 2
    # Remembered for its one message only: a copy of it (the sweep's) reads the order as before.
    with CaptureQueriesContext(connection) as queries:
        assert tasks.order_submit_task(str(second.id)) == "not_claimed"
    assert len(queries.captured_queries) == 1


@pytest.mark.django_db
def test_an_order_a_batch_here_put_back_in_the_queue_is_sent_by_its_next_message(
    trader, parsec_by_size, enqueued, settings, django_capture_on_commit_callbacks
):
    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    accepted, refused = place(trader, size=Decimal("14")), place(trader, size=Decimal("12"))
    with django_capture_on_commit_callbacks(execute=True):
        submission_batch.orders_submit_batch(order_id=accepted.id, now=timezone.now())
    refused.refresh_from_db()
    assert refused.status == S.QUEUED  # Parsec was unavailable for it: queued again with a backoff
    parsec_by_size.by_size = {}

    results = submission_batch.orders_submit_batch(order_id=refused.id, now=refused.next_attempt_at)

    assert results[str(refused.id)].outcome == "accepted"
    refused.refresh_from_db()
    assert refused.status == S.OPEN
    assert refused.submit_attempts == 2


def test_the_adopted_orders_remembered_are_bounded_oldest_first(monkeypatch):
    monkeypatch.setattr(submission_batch, "ADOPTED_REMEMBERED", 2)
    remembered = submission_batch._AdoptedHere()
    remembered.add(["a", "b"])
    remembered.add(["c"])

    assert [remembered.take(order_id) for order_id in ("a", "b", "c", "c")] == [False, True, True, False]


@pytest.mark.django_db
def test_an_identical_intent_in_the_batch_is_claimed_one_by_one_and_waits(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    scripted_parsec.create_outcomes = [in_doubt()]
    first, twin = place(trader), place(trader)  # the same intent: one in flight at a time

    results = submission_batch.orders_submit_batch(order_id=first.id, now=timezone.now())

    assert results[str(first.id)].outcome == "unknown"
    assert results[str(twin.id)].outcome == "busy"
    twin.refresh_from_db()
    assert twin.status == S.QUEUED
    assert twin.next_attempt_at > timezone.now()
    assert scripted_parsec.count("create_order") == 1


@pytest.mark.django_db
def test_a_held_order_stays_queued_while_the_rest_of_its_batch_is_sent(
    trader, scripted_parsec, enqueued, settings
):
    from django.contrib.auth.models import User

    from audit.services import Actor
    from halts.models import TradingHalt
    from halts.services import trading_halt_set

    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    halted_trader = make_trader(name="Halted partner")
    held = place(halted_trader, size=Decimal("12"))
    sent = place(trader, size=Decimal("11"))
    staff = Actor.staff(User.objects.create_user("alice", is_staff=True))
    trading_halt_set(
        scope=TradingHalt.Scope.PARTNER,
        partner=halted_trader.partner,
        reason="Under review.",
        actor=staff,
        now=timezone.now(),
    )

    results = submission_batch.orders_submit_batch(order_id=sent.id, now=timezone.now())

    assert results[str(sent.id)].outcome == "accepted"
    assert results[str(held.id)].outcome == "held"
    assert results[str(held.id)].retry_at is None  # as the single path: the sweep sends it after the lift
    held.refresh_from_db()
    assert held.status == S.QUEUED
    assert held.submit_attempts == 0
    assert scripted_parsec.count("create_order") == 1


@pytest.mark.django_db
def test_a_batch_reads_the_active_halts_once_for_all_its_orders(trader, scripted_parsec, enqueued, settings):
    from django.test.utils import CaptureQueriesContext

    from halts.models import TradingHalt

    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    orders = [place(trader, size=Decimal(10 + n)) for n in range(6)]

    with CaptureQueriesContext(connection) as queries:
        results = submission_batch.orders_submit_batch(order_id=orders[0].id, now=timezone.now())

    assert [results[str(order.id)].outcome for order in orders] == ["accepted"] * 6
    halts_table = TradingHalt._meta.db_table
    assert sum(halts_table in query["sql"] for query in queries.captured_queries) == 1


@pytest.mark.django_db(transaction=True)  # committed, as in a worker: no bump pending, the caches trusted
def test_a_batch_reads_the_read_caches_generation_once_to_record_its_acceptances(
    trader, scripted_parsec, enqueued, settings, monkeypatch
):
    from generations import store

    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    orders = [place(trader, size=Decimal(10 + n)) for n in range(6)]
    fetches = []
    fetch = store._generation_fetch
    monkeypatch.setattr(store, "_generation_fetch", lambda: fetches.append(1) or fetch())

    results = submission_batch.orders_submit_batch(order_id=orders[0].id, now=timezone.now())

    assert [results[str(order.id)].outcome for order in orders] == ["accepted"] * 6
    assert Event.objects.filter(object_id__in=[str(order.id) for order in orders]).count() >= 12
    assert len(fetches) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_never_claim_one_order_twice(trader, parsec_by_size, enqueued, settings):
    settings.ORDER_SUBMIT_BATCH_SIZE = 8
    parsec_by_size.by_size = {}  # every order accepted
    orders = [place(trader, size=Decimal(100 + index)) for index in range(40)]
    start = threading.Barrier(4)
    failures = []

    def worker(offset: int) -> None:
        try:
            start.wait()
            for order in orders[offset::4]:
                submission_batch.orders_submit_batch(order_id=order.id, now=timezone.now())
        except Exception as error:  # noqa: BLE001 - reported by the test below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    sizes = Counter(int(Decimal(call["body"]["size"])) for _, call in parsec_by_size.calls)
    assert sizes == Counter(100 + index for index in range(40))  # each sent once, none left out
    claims = Counter(OrderEvent.objects.filter(to_status=S.SUBMITTING).values_list("order_id", flat=True))
    assert set(claims.values()) == {1}
    assert len(claims) == 40
    assert set(Order.objects.filter(id__in=[o.id for o in orders]).values_list("status", flat=True)) == {
        S.OPEN
    }


@pytest.mark.django_db
def test_an_order_no_thread_could_send_within_half_its_lease_goes_back_to_the_queue_unsent(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_SUBMIT_BATCH_SIZE = 16
    settings.ORDER_SUBMIT_LEASE_SECONDS = 0  # every claim is already too old when a thread takes it
    order = place(trader)

    result = submission_batch.orders_submit_batch(order_id=order.id, now=timezone.now())[str(order.id)]

    assert result.outcome == "retry"
    assert scripted_parsec.count("create_order") == 0
    order.refresh_from_db()
    assert order.status == S.QUEUED
    assert order.last_error_code == "not_sent_in_time"
    assert order.next_attempt_at > order.updated_at
    assert list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True)) == [
        S.QUEUED,
        S.SUBMITTING,
        S.QUEUED,
    ]
