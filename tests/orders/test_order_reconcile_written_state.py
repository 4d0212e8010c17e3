"""Reconciliation carries on with what the services wrote on an order, never with its own recomputed copy."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone
from orders_support import in_doubt, place

from orders.models import Order
from orders.services import reconcile, submission

pytestmark = pytest.mark.django_db

S = Order.Status


def test_an_adopted_order_reaches_the_fills_stage_as_it_was_stored(
    trader, scripted_parsec, enqueued, monkeypatch
):
    scripted_parsec.create_outcomes = [in_doubt(applied=True)]
    order = place(trader)
    submission.order_submit(order_id=order.id, now=timezone.now())
    parsec_customer = trader.customer.parsec_customer_id
    remote = scripted_parsec.orders[parsec_customer][0]
    # A listing that reports a filled amount below zero: the service stores it clamped to 0.
    scripted_parsec.set_order(parsec_customer, remote.id, filled=Decimal("-1"))
    seen = []
    record_fills = reconcile.order_fills_record

    def spy(*, by_parsec_id, fills, now):
        seen.extend((item.id, item.status, item.filled) for item in by_parsec_id.values())
        return record_fills(by_parsec_id=by_parsec_id, fills=fills, now=now)

    monkeypatch.setattr(reconcile, "order_fills_record", spy)

    report = reconcile.reconcile_customer_exchange(
        customer_id=trader.customer.id, exchange="kalshi", now=timezone.now()
    )

    stored = Order.objects.get(pk=order.pk)
    assert report.adopted == 1
    assert (stored.status, stored.filled, stored.parsec_order_id) == (S.OPEN, Decimal(0), remote.id)
    assert seen == [(order.id, stored.status, stored.filled)]


def test_the_services_return_what_they_wrote(trader, scripted_parsec, enqueued):
    order = place(trader)
    submission.order_submit(order_id=order.id, now=timezone.now())
    order.refresh_from_db()
    parsec_customer = trader.customer.parsec_customer_id
    # An older picture (pending) with more filled: the status stays, the filled amount moves on.
    answer = scripted_parsec.set_order(parsec_customer, order.parsec_order_id, status="pending", filled=2)

    written = reconcile.order_apply_parsec_state(
        order=order, answer=answer, cause="reconciled", now=timezone.now(), settle=False
    )

    stored = Order.objects.get(pk=order.pk)
    assert (written.status, written.filled) == (stored.status, stored.filled) == (S.OPEN, Decimal(2))
