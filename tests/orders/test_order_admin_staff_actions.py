"""Order admin actions: a confirmation before a bulk cancel; who did what, in the admin log and the order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from orders_support import in_doubt, place

from orders.models import Order, OrderEvent
from orders.services import cancel, submission

pytestmark = pytest.mark.django_db

S = Order.Status
CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def staff(client):
    user = User.objects.create_superuser("operator-ann", "ann@example.com", "pw")
    client.force_login(user)
    return client


def log_entries(order: Order) -> list[LogEntry]:
    content_type = ContentType.objects.get_for_model(Order)
    return list(LogEntry.objects.filter(content_type=content_type, object_id=str(order.pk)).order_by("id"))


def staff_events(order: Order) -> list[OrderEvent]:
    return list(order.events.filter(cause__startswith="staff_").order_by("id"))


def test_a_bulk_cancel_asks_first_and_names_every_order_it_would_cancel(staff, trader, enqueued):
    orders = [place(trader, price=Decimal(index + 1) / 100) for index in range(3)]
    selection = {"action": "cancel_orders", "_selected_action": [str(order.id) for order in orders]}

    response = staff.post(CHANGELIST, selection)

    assert response.status_code == 200
    content = response.content.decode()
    assert 'data-cancel-count="3"' in content
    assert "You are about to cancel 3 orders." in content
    for order in orders:
        assert f'data-order-id="{order.id}"' in content
        assert f'name="_selected_action" value="{order.id}"' in content
    assert 'name="post" value="yes"' in content
    assert set(Order.objects.values_list("status", flat=True)) == {S.QUEUED}  # nothing cancelled yet
    assert not LogEntry.objects.exists()


def test_a_confirmed_cancel_is_recorded_with_the_staff_user_in_the_log_and_the_order(staff, trader, enqueued):
    order = place(trader)

    staff.post(CHANGELIST, {"action": "cancel_orders", "_selected_action": [str(order.id)], "post": "yes"})

    order.refresh_from_db()
    assert order.status == S.CANCELLED
    [entry] = log_entries(order)
    assert entry.user.username == "operator-ann"
    assert entry.action_flag == CHANGE
    assert entry.get_change_message() == "Cancel by operator-ann: cancel requested."
    [event] = staff_events(order)
    assert event.cause == "staff_cancel"
    assert event.detail["staff_user"] == "operator-ann"
    assert event.detail["staff_user_id"] == entry.user_id
    assert event.detail["outcome"] == "cancel requested"
    # The service's own transition event stays the record of the status change.
    assert order.events.filter(cause="cancelled_before_send", to_status=S.CANCELLED).count() == 1


def test_a_cancel_refused_for_a_final_order_is_recorded_as_refused(staff, trader, enqueued):
    order = place(trader)
    cancel.order_cancel_request(order=order, now=timezone.now())

    staff.post(CHANGELIST, {"action": "cancel_orders", "_selected_action": [str(order.id)], "post": "yes"})

    [event] = staff_events(order)
    assert event.detail["outcome"].startswith("refused, This order is already cancelled")
    assert "refused" in log_entries(order)[0].get_change_message()


def test_the_reconcile_action_is_recorded_on_every_selected_order(staff, trader, scripted_parsec, enqueued):
    orders = [place(trader, price=Decimal("0.01")), place(trader, price=Decimal("0.02"))]
    for order in orders:
        submission.order_submit(order_id=order.id, now=timezone.now())

    staff.post(CHANGELIST, {"action": "reconcile_now", "_selected_action": [str(o.id) for o in orders]})

    for order in orders:
        [event] = staff_events(order)
        assert (event.cause, event.detail["staff_user"]) == ("staff_reconcile", "operator-ann")
        assert event.detail["outcome"] == "reconciled with Parsec"
        assert log_entries(order)[0].user.username == "operator-ann"


def test_the_resend_action_is_recorded_whether_it_sends_or_refuses(
    staff, trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 2
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 60
    scripted_parsec.create_outcomes = [in_doubt()]
    order = place(trader)
    submission.order_submit(order_id=order.id, now=timezone.now())
    selection = {"action": "resend_orders", "_selected_action": [str(order.id)]}

    staff.post(CHANGELIST, selection)
    Order.objects.filter(pk=order.pk).update(
        reconcile_misses=2, first_miss_at=timezone.now() - timedelta(minutes=2)
    )
    staff.post(CHANGELIST, selection)

    refused, sent = staff_events(order)
    assert refused.detail["outcome"].startswith("refused, only 0 of 2 listings")
    assert sent.detail["outcome"] == "sent again"
    assert {refused.detail["staff_user"], sent.detail["staff_user"]} == {"operator-ann"}
    assert [entry.user.username for entry in log_entries(order)] == ["operator-ann", "operator-ann"]
    assert Order.objects.get(pk=order.pk).status == S.QUEUED


def test_the_partner_sees_that_staff_acted_but_not_who(staff, trader, enqueued):
    order = place(trader)
    staff.post(CHANGELIST, {"action": "cancel_orders", "_selected_action": [str(order.id)], "post": "yes"})

    events = trader.client.get(f"/api/v1/orders/{order.id}").json()["events"]

    [staff_event] = [event for event in events if event["cause"] == "staff_cancel"]
    assert staff_event["detail"] == {"outcome": "cancel requested"}
    assert "operator-ann" not in str(events)
