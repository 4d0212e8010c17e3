"""A cancel that keeps losing races to other writers answers 409 cancel_contended, never a silent 202."""

from __future__ import annotations

import pytest
from orders_support import place

from orders.models import Order
from orders.services import cancel
from parsec.client import decode_json

pytestmark = pytest.mark.django_db

S = Order.Status


def test_a_cancel_that_loses_every_race_says_so_with_a_409(trader, enqueued, monkeypatch):
    order = place(trader)
    lost = []

    def always_lost(**kwargs):
        # Another writer (a submit's claim, a signature) moved the order each time we tried.
        lost.append(kwargs["to_status"])
        return False

    monkeypatch.setattr(cancel, "order_transition", always_lost)

    response = trader.client.delete(f"/api/v1/orders/{order.id}")

    assert response.status_code == 409, response.content
    assert decode_json(response.content)["code"] == "cancel_contended"
    assert lost == [S.CANCELLED] * cancel.CANCEL_ATTEMPTS
    order.refresh_from_db()
    assert order.status == S.QUEUED
    assert order.cancel_requested_at is None  # nothing half-done: not cancelled, not marked either


def test_a_cancel_that_loses_one_race_looks_again_and_records_the_request(trader, enqueued, monkeypatch):
    order = place(trader)
    real_transition = cancel.order_transition

    def claimed_first(**kwargs):
        # A worker claims the order just before our cancel: it is now submitting, so it is marked.
        Order.objects.filter(id=order.id).update(status=S.SUBMITTING)
        monkeypatch.setattr(cancel, "order_transition", real_transition)
        return False

    monkeypatch.setattr(cancel, "order_transition", claimed_first)

    response = trader.client.delete(f"/api/v1/orders/{order.id}")

    assert response.status_code == 202, response.content
    order.refresh_from_db()
    assert order.status == S.SUBMITTING
    assert order.cancel_requested_at is not None  # the submission's answer sees it and cancels
