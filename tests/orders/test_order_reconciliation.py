"""Reconciliation: statuses and fills follow Parsec; orders in doubt are adopted or, after a grace, resent."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from orders_support import in_doubt, make_trader, place, unavailable

from audit.services import Actor
from orders.models import Fill, Order, OrderEvent
from orders.services import cancel, reconcile_schedule, submission
from orders.services import in_doubt as doubt
from orders.services import reconcile as reconciliation
from orders.transitions import order_transition
from parsec.client import Order as ParsecOrder

pytestmark = pytest.mark.django_db

S = Order.Status


def submit(order: Order, *, now=None) -> str:
    return submission.order_submit(order_id=order.id, now=now or timezone.now()).outcome


def reconcile(trader, *, now=None, exchange="kalshi") -> reconciliation.ReconcileReport:
    return reconciliation.reconcile_customer_exchange(
        customer_id=trader.customer.id, exchange=exchange, now=now or timezone.now()
    )


def test_status_and_fills_follow_parsec_and_a_replay_changes_nothing(trader, scripted_parsec, enqueued):
    order = place(trader, size=Decimal("10"))
    submit(order)
    order.refresh_from_db()
    parsec_id = trader.customer.parsec_customer_id
    remote = scripted_parsec.orders[parsec_id][0]
    scripted_parsec.add_fill(parsec_id, remote, "4", fill_id="fill-1")
    scripted_parsec.set_order(parsec_id, remote.id, status="partially_filled", filled=Decimal("4"))

    first = reconcile(trader)
    order.refresh_from_db()
    assert (order.status, order.filled) == (S.PARTIALLY_FILLED, Decimal("4"))
    assert first.new_fills == 1

    replay = reconcile(trader)
    assert replay.new_fills == 0
    assert replay.updated == 0
    assert Fill.objects.filter(order=order).count() == 1
    assert OrderEvent.objects.filter(order=order, to_status=S.PARTIALLY_FILLED).count() == 1

    scripted_parsec.add_fill(parsec_id, remote, "6", fill_id="fill-2")
    scripted_parsec.set_order(parsec_id, remote.id, status="filled", filled=Decimal("10"))
    reconcile(trader)
    order.refresh_from_db()
    assert (order.status, order.filled) == (S.FILLED, Decimal("10"))
    assert order.settled_at is not None
    assert sorted(Fill.objects.filter(order=order).values_list("fill_id", flat=True)) == ["fill-1", "fill-2"]

    # Settled and final: out of reconciliation's scope, so it costs nothing any more.
    assert (trader.customer.id, "kalshi") not in set(reconcile_schedule.reconcile_pairs())


def test_an_order_in_doubt_adopts_the_parsec_order_matching_its_intent(trader, scripted_parsec, enqueued):
    scripted_parsec.create_outcomes = [in_doubt(applied=True)]
    order = place(trader)
    assert submit(order) == "unknown"
    remote = scripted_parsec.orders[trader.customer.parsec_customer_id][0]

    report = reconcile(trader)

    order.refresh_from_db()
    assert report.adopted == 1
    assert order.status == S.OPEN
    assert order.parsec_order_id == remote.id
    assert scripted_parsec.count("create_order") == 1  # never sent twice
    assert OrderEvent.objects.filter(order=order).last().cause == "adopted_from_listing"


def test_an_order_in_doubt_never_adopts_a_parsec_order_another_order_owns(trader, scripted_parsec, enqueued):
    owner = place(trader)
    submit(owner)  # accepted: owns the one Parsec order with this intent
    scripted_parsec.create_outcomes = [in_doubt(applied=False)]
    doubtful = place(trader)
    assert submit(doubtful) == "unknown"

    report = reconcile(trader)

    doubtful.refresh_from_db()
    assert report.adopted == 0
    assert report.missed == 1
    assert doubtful.status == S.UNKNOWN
    assert doubtful.parsec_order_id is None


def test_an_order_in_doubt_ignores_parsec_orders_placed_before_it_was_sent(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_CLOCK_SKEW_SECONDS = 5
    scripted_parsec.create_outcomes = [in_doubt(applied=True)]
    order = place(trader)
    submit(order)
    parsec_id = trader.customer.parsec_customer_id
    remote = scripted_parsec.orders[parsec_id][0]
    scripted_parsec.set_order(parsec_id, remote.id, created_at=order.created_at - timedelta(minutes=1))

    assert reconcile(trader).adopted == 0


def test_after_enough_empty_listings_over_the_grace_period_the_order_is_sent_again(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 3
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 60
    scripted_parsec.create_outcomes = [in_doubt(applied=False)]
    order = place(trader)
    submit(order)
    start = timezone.now()

    reconcile(trader, now=start)
    reconcile(trader, now=start + timedelta(seconds=10))
    reconcile(trader, now=start + timedelta(seconds=20))  # three misses, but only 20 s apart
    order.refresh_from_db()
    assert order.status == S.UNKNOWN
    assert order.reconcile_misses == 3

    report = reconcile(trader, now=start + timedelta(seconds=61))

    order.refresh_from_db()
    assert report.resent == 1
    assert order.status == S.QUEUED
    assert order.reconcile_misses == 0
    assert ("orders.submit", (str(order.id),)) in enqueued
    assert submit(order, now=start + timedelta(seconds=61)) == "accepted"
    assert scripted_parsec.count("create_order") == 2


def test_an_order_in_doubt_whose_cancel_was_asked_is_cancelled_once_parsec_shows_it_never_arrived(
    trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 1
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 0
    scripted_parsec.create_outcomes = [in_doubt(applied=False)]
    order = place(trader)
    submit(order)
    cancel.order_cancel_request(order=order, now=timezone.now())

    reconcile(trader)

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert scripted_parsec.count("create_order") == 1


def test_reconciliation_reads_parsec_twice_and_queries_a_bounded_number_of_times(
    trader, scripted_parsec, enqueued
):
    orders = [place(trader, price=Decimal("0.0") + Decimal(index + 1) / 100) for index in range(20)]
    for order in orders:
        submit(order)
    reconcile(trader)  # first pass: everything in line
    scripted_parsec.calls.clear()

    with CaptureQueriesContext(connection) as queries:
        report = reconcile(trader)

    assert report.orders == 20
    assert scripted_parsec.count("list_orders") == 1
    assert scripted_parsec.count("list_fills") == 1
    assert len(queries) <= 8, [query["sql"] for query in queries]


def test_the_fan_out_names_each_customer_and_exchange_with_live_orders_once(
    tradable_exchanges, scripted_parsec, enqueued
):
    one = make_trader()
    two = make_trader()
    for trader in (one, one, two):
        submit(place(trader, price=Decimal("0.02") if trader is one else Decimal("0.03")))
    place(two)  # queued only: nothing at Parsec to reconcile

    pairs = sorted(reconcile_schedule.reconcile_pairs())

    assert pairs == sorted([(one.customer.id, "kalshi"), (two.customer.id, "kalshi")])


def test_the_cancel_task_path_cancels_at_parsec_and_a_refusal_falls_back_to_reconciliation(
    trader, scripted_parsec, enqueued
):
    from parsec.client import ParsecRejected

    order = place(trader)
    submit(order)
    cancel.order_cancel_request(order=order, now=timezone.now())
    assert ("orders.cancel", (str(order.id),)) in enqueued

    assert cancel.order_cancel_at_parsec(order_id=order.id, now=timezone.now()) == "cancelled"
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.settled_at is not None

    other = place(trader, price=Decimal("0.05"))
    submit(other)
    scripted_parsec.cancel_outcomes = [
        ParsecRejected(status=400, code="bad_request", message="order is already filled")
    ]
    assert cancel.order_cancel_at_parsec(order_id=other.id, now=timezone.now()) == "reconcile"
    other.refresh_from_db()
    assert other.status == S.OPEN  # not failed: reconciliation will say what it is
    assert ("orders.reconcile_customer", (str(trader.customer.id), "kalshi")) in enqueued


def arrive_late(scripted_parsec, trader, order: Order) -> ParsecOrder:
    """A create that was in doubt shows up at Parsec only now."""
    late = ParsecOrder(
        id="ord_late_" + uuid.uuid4().hex,
        market_id=order.market_id,
        outcome=order.outcome,
        side=order.side,
        price=order.price,
        size=order.size,
        filled=Decimal(0),
        status="open",
        created_at=timezone.now(),
        updated_at=None,
    )
    scripted_parsec.orders.setdefault(trader.customer.parsec_customer_id, []).append(late)
    return late


def test_a_send_that_arrives_once_the_order_is_queued_again_is_adopted_and_never_sent_twice(
    trader, scripted_parsec, enqueued
):
    submit(place(trader, price=Decimal("0.2")))  # another live order: the customer is reconciled
    scripted_parsec.create_outcomes = [in_doubt(applied=False)]
    order = place(trader)
    assert submit(order) == "unknown"
    assert doubt.order_resend(
        actor=Actor.system("test"), order_id=order.id, cause="resent_not_at_parsec", now=timezone.now()
    )
    late = arrive_late(scripted_parsec, trader, order)

    report = reconcile(trader)

    order.refresh_from_db()
    assert report.adopted == 1
    assert (order.status, order.parsec_order_id) == (S.OPEN, late.id)
    assert OrderEvent.objects.filter(order=order).last().cause == "adopted_late_arrival"
    assert submit(order) == "not_claimed"  # the queued second send never leaves
    assert scripted_parsec.count("create_order") == 2  # the other order's, and the first send


def test_a_send_that_arrives_after_the_order_was_placed_again_is_cancelled_as_a_duplicate(
    trader, scripted_parsec, enqueued
):
    scripted_parsec.create_outcomes = [in_doubt(applied=False)]
    order = place(trader)
    submit(order)
    assert doubt.order_resend(
        actor=Actor.system("test"), order_id=order.id, cause="resent_not_at_parsec", now=timezone.now()
    )
    assert submit(order) == "accepted"
    order.refresh_from_db()
    late = arrive_late(scripted_parsec, trader, order)

    report = reconcile(trader)
    replay = reconcile(trader)

    assert report.duplicates == [late.id]
    cancels = [call for call in scripted_parsec.calls if call[0] == "cancel_order"]
    assert [kwargs["order_id"] for _, kwargs in cancels] == [late.id]
    listed = {item.id: item.status for item in scripted_parsec.orders[trader.customer.parsec_customer_id]}
    assert listed == {order.parsec_order_id: "open", late.id: "cancelled"}
    order.refresh_from_db()
    assert order.status == S.OPEN
    noted = OrderEvent.objects.filter(order=order, cause=doubt.DUPLICATE_CAUSE)
    assert list(noted.values_list("detail", flat=True)) == [
        {"parsec_order_id": late.id, "parsec_status": "open"}
    ]
    assert replay.duplicates == []  # noted once; already cancelled, so nothing more to do


def test_a_parsec_order_that_an_identical_order_of_ours_on_its_way_may_own_is_left_alone(
    trader, scripted_parsec, enqueued
):
    scripted_parsec.create_outcomes = [unavailable()]
    first = place(trader)
    assert submit(first) == "retry"
    assert submit(first, now=timezone.now() + timedelta(minutes=5)) == "accepted"  # sent twice
    second = place(trader)  # the same intent, claimed and on its way to Parsec
    assert order_transition(
        order_id=second.id,
        from_statuses=[S.QUEUED],
        to_status=S.SUBMITTING,
        cause="claimed",
        now=timezone.now(),
        submitting_since=timezone.now(),
        sent_at=timezone.now(),
    )
    arrive_late(scripted_parsec, trader, second)

    report = reconcile(trader)

    assert report.duplicates == []
    assert scripted_parsec.count("cancel_order") == 0
    assert not OrderEvent.objects.filter(cause=doubt.DUPLICATE_CAUSE).exists()
