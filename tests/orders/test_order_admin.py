"""Order admin: list, search, read-only detail, actions through the services, the dashboard, the command."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.utils import timezone
from orders_support import in_doubt, place

from orders.models import Order, OrderEvent
from orders.services import in_doubt as doubt
from orders.services import submission

pytestmark = pytest.mark.django_db

S = Order.Status
CHANGELIST = "/admin/orders/order/"


@pytest.fixture
def admin_client(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    return client


def submit(order: Order) -> str:
    return submission.order_submit(order_id=order.id, now=timezone.now()).outcome


def test_the_changelist_filters_and_searches_in_a_bounded_number_of_queries(
    admin_client, trader, enqueued, django_assert_max_num_queries
):
    orders = [place(trader, price=Decimal(index + 1) / 100) for index in range(5)]
    with django_assert_max_num_queries(12):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert b"Dashboard" in response.content

    for term in (str(orders[0].id), trader.customer.external_id, "KXFED", "not-a-uuid"):
        found = admin_client.get(CHANGELIST, {"q": term})
        assert found.status_code == 200, term
    by_id = admin_client.get(CHANGELIST, {"q": str(orders[0].id)})
    assert by_id.context["cl"].result_count == 1
    filtered = admin_client.get(CHANGELIST, {"status__exact": "queued", "exchange": "kalshi"})
    assert filtered.context["cl"].result_count == 5


def test_the_detail_page_is_read_only_and_shows_events(admin_client, trader, enqueued):
    order = place(trader)
    response = admin_client.get(f"{CHANGELIST}{order.id}/change/")
    assert response.status_code == 200
    assert b"created" in response.content  # the event's cause
    assert b'name="price"' not in response.content  # not an editable field
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_the_cancel_action_cancels_through_the_service_once_confirmed(admin_client, trader, enqueued):
    order = place(trader)
    selection = {"action": "cancel_orders", "_selected_action": [str(order.id)]}
    response = admin_client.post(CHANGELIST, {**selection, "post": "yes"})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


def test_the_resend_action_refuses_until_the_grace_period_has_passed(
    admin_client, trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 2
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 60
    scripted_parsec.create_outcomes = [in_doubt()]
    order = place(trader)
    submit(order)

    admin_client.post(CHANGELIST, {"action": "resend_orders", "_selected_action": [str(order.id)]})
    assert Order.objects.get(pk=order.pk).status == S.UNKNOWN

    Order.objects.filter(pk=order.pk).update(
        reconcile_misses=2, first_miss_at=timezone.now() - timedelta(minutes=2)
    )
    admin_client.post(CHANGELIST, {"action": "resend_orders", "_selected_action": [str(order.id)]})
    assert Order.objects.get(pk=order.pk).status == S.QUEUED


def test_the_reconcile_action_reads_parsec_for_the_selected_orders(
    admin_client, trader, scripted_parsec, enqueued
):
    order = place(trader)
    submit(order)
    scripted_parsec.calls.clear()
    admin_client.post(CHANGELIST, {"action": "reconcile_now", "_selected_action": [str(order.id)]})
    assert scripted_parsec.count("list_orders") == 1


def test_the_dashboard_draws_its_charts_as_inline_svg(admin_client, trader, scripted_parsec, enqueued):
    for index in range(3):
        submit(place(trader, price=Decimal(index + 1) / 100))
    place(trader, price=Decimal("0.5"))

    response = admin_client.get(f"{CHANGELIST}dashboard/")

    assert response.status_code == 200
    content = response.content.decode()
    assert content.count('<svg role="img"') == 2  # fees have nothing to draw yet
    assert "Nothing yet." in content
    assert "open: 3" in content
    assert "queued: 1" in content
    charts = content[content.index('class="order-charts"') :]
    assert "<script" not in charts
    assert "http" not in charts.replace("http://www.w3.org", "")


def test_the_dashboard_is_for_staff_only(client):
    response = client.get(f"{CHANGELIST}dashboard/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_reconcile_command_reports_progress_and_totals(trader, scripted_parsec, enqueued):
    order = place(trader)
    submit(order)
    remote = scripted_parsec.orders[trader.customer.parsec_customer_id][0]
    scripted_parsec.set_order(trader.customer.parsec_customer_id, remote.id, status="cancelled")
    out, err = StringIO(), StringIO()

    call_command("reconcile", stdout=out, stderr=err)

    assert "Reconciled 1 of 1" in out.getvalue()
    assert "1/1" in err.getvalue()
    assert "#" in err.getvalue()
    assert Order.objects.get(pk=order.pk).status == S.CANCELLED


def test_the_reconcile_command_can_target_one_customer_and_refuses_a_bad_id(
    trader, scripted_parsec, enqueued
):
    submit(place(trader))
    out = StringIO()
    call_command("reconcile", "--customer", str(trader.customer.id), stdout=out, stderr=StringIO())
    assert "Reconciled 1 of 1" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("reconcile", "--customer", "nope", stdout=StringIO(), stderr=StringIO())


def test_orders_found_twice_at_parsec_can_be_listed(admin_client, trader, enqueued):
    duplicated = place(trader)
    place(trader, price=Decimal("0.2"))  # never found twice
    OrderEvent.objects.create(
        order=duplicated,
        from_status=S.QUEUED,
        to_status=S.QUEUED,
        cause=doubt.DUPLICATE_CAUSE,
        detail={"parsec_order_id": "ord_late"},
        created_at=timezone.now(),
    )

    listed = admin_client.get(CHANGELIST, {"duplicate": "yes"})

    assert listed.status_code == 200
    assert [order.id for order in listed.context["cl"].result_list] == [duplicated.id]
    assert admin_client.get(CHANGELIST).context["cl"].result_count == 2
