"""Admin times carry their seconds (and say UTC): in lists, inlines and detail pages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from orders_support import place

from orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db

PLACED = datetime(2026, 3, 2, 12, 34, 56, 700_000, tzinfo=UTC)


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_order_times_show_seconds_in_the_list_the_detail_and_the_events(staff, trader, enqueued):
    order = place(trader)
    Order.objects.filter(pk=order.pk).update(created_at=PLACED)
    OrderEvent.objects.filter(order=order).update(created_at=PLACED)
    OrderEvent.objects.create(
        order=order,
        from_status="queued",
        to_status="submitting",
        cause="claimed",
        created_at=PLACED + timedelta(seconds=3),
    )

    listed = staff.get("/admin/orders/order/").content.decode()
    detail = staff.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert "2026-03-02 12:34:56 UTC" in listed
    assert "2026-03-02 12:34:56 UTC" in detail  # the order's own created_at and its first event
    events = detail[detail.index("events-group") :]
    first, second = events.index("2026-03-02 12:34:56 UTC"), events.index("2026-03-02 12:34:59 UTC")
    assert first < second  # events in the order they happened, distinguishable to the second


def test_the_ledger_and_key_lists_show_seconds_too(staff):
    from django.utils import timezone
    from factories import make_api_key, make_customer, make_fee_authorization, make_ledger_entry

    from customers.models import PartnerApiKey

    api_key, _ = make_api_key()
    PartnerApiKey.objects.filter(pk=api_key.pk).update(created_at=PLACED)
    authorization = make_fee_authorization(customer=make_customer(), fee_amount=10_000, created_at=PLACED)
    make_ledger_entry(authorization=authorization, kind="authorized", amount=10_000, created_at=PLACED)

    for page in (
        "/admin/customers/partnerapikey/",
        "/admin/fees/feeledgerentry/",
        "/admin/fees/feeauthorization/",
    ):
        assert "2026-03-02 12:34:56 UTC" in staff.get(page).content.decode(), page
    assert timezone.get_current_timezone_name() == "UTC"
