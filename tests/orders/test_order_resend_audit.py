"""An order sent again is audited: by the staff user from the admin, by the platform from the
reconciler; a refused resend writes no row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from orders_support import in_doubt, place

from audit.models import AuditEntry
from orders.models import Order
from orders.services import submission

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/orders/order/"


def test_a_staff_resend_is_one_row_and_a_refused_one_none(
    client, trader, scripted_parsec, enqueued, settings
):
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 2
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 60
    user = User.objects.create_superuser("resender", "r@example.com", "pw")
    client.force_login(user)
    scripted_parsec.create_outcomes = [in_doubt()]
    order = place(trader)
    submission.order_submit(order_id=order.id, now=timezone.now())
    selection = {"action": "resend_orders", "_selected_action": [str(order.id)]}

    client.post(CHANGELIST, selection, REMOTE_ADDR="198.51.100.9")  # too early: refused
    assert not AuditEntry.objects.filter(action="order.resent").exists()

    Order.objects.filter(pk=order.pk).update(
        reconcile_misses=2, first_miss_at=timezone.now() - timedelta(minutes=2)
    )
    client.post(CHANGELIST, selection, REMOTE_ADDR="198.51.100.9")

    assert Order.objects.get(pk=order.pk).status == Order.Status.QUEUED
    [entry] = AuditEntry.objects.filter(action="order.resent")
    assert (entry.actor_type, entry.actor_user_id, entry.ip) == ("staff", user.pk, "198.51.100.9")
    assert (entry.target_type, entry.target_id, entry.partner_id) == (
        "order",
        str(order.id),
        trader.partner.pk,
    )
    assert (entry.before, entry.after) == ({"status": "unknown"}, {"status": "queued"})
