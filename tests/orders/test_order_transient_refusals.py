"""Answers that a later state can change: not stored under an Idempotency-Key; signature races and margins."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from orders_support import order_body, polymarket_market

from customers.models import Customer
from orders.errors import OrderError
from orders.models import IdempotencyKey, Order
from orders.services import deadlines, fee_authorization
from parsec.client import decode_json

S = Order.Status


@pytest.mark.django_db
def test_a_customer_not_ready_is_not_stored_so_a_retry_with_the_same_key_succeeds(trader, enqueued):
    Customer.objects.filter(pk=trader.customer.pk).update(status=Customer.Status.PROVISIONING)
    refused = trader.post_order(order_body(), key="retry-when-ready")
    assert (refused.status_code, refused.json()["code"]) == (409, "customer_not_ready")
    assert not IdempotencyKey.objects.exists()

    Customer.objects.filter(pk=trader.customer.pk).update(status=Customer.Status.ACTIVE)
    retried = trader.post_order(order_body(), key="retry-when-ready")

    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried
    assert Order.objects.count() == 1


@pytest.mark.django_db
def test_a_disabled_customer_is_not_stored_either(trader, enqueued):
    Customer.objects.filter(pk=trader.customer.pk).update(status=Customer.Status.DISABLED)
    assert trader.post_order(order_body(), key="k").status_code == 409
    Customer.objects.filter(pk=trader.customer.pk).update(status=Customer.Status.ACTIVE)
    assert trader.post_order(order_body(), key="k").status_code == 201


@pytest.mark.django_db
def test_a_final_refusal_is_still_stored_and_replayed(trader, enqueued):
    first = trader.post_order(order_body(price=Decimal("2")), key="bad")
    again = trader.post_order(order_body(price=Decimal("2")), key="bad")
    assert first.status_code == again.status_code == 400
    assert again["Idempotent-Replayed"] == "true"


def _awaiting(sim_trader) -> tuple[Order, str]:
    response = sim_trader.post_order(order_body(polymarket_market()), exchange="polymarket")
    assert response.status_code == 201, response.content
    typed_data = decode_json(response.content)["fee_authorization"]["typed_data"]
    return Order.objects.get(), sim_trader.sign(typed_data)


def test_a_submission_that_loses_the_race_answers_409_like_the_others(sim_trader, enqueued):
    order, signature = _awaiting(sim_trader)
    stale = Order.objects.select_related("fee_authorization").get(pk=order.pk)  # read before the winner
    now = stale.created_at + timedelta(seconds=5)
    fee_authorization.order_fee_authorization_submit(order=order, signature=signature, now=now)

    with pytest.raises(OrderError) as lost:
        fee_authorization.order_fee_authorization_submit(order=stale, signature=signature, now=now)

    assert (lost.value.status, lost.value.code) == (409, "fee_authorization_not_expected")
    order.refresh_from_db()
    assert order.status == S.QUEUED


def test_a_signature_inside_the_deadline_margin_is_refused_at_once(sim_trader, enqueued, settings):
    settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS = 10
    order, signature = _awaiting(sim_trader)
    two_seconds_before = deadlines.fee_deadline(order) - timedelta(seconds=2)

    with pytest.raises(OrderError) as refused:
        fee_authorization.order_fee_authorization_submit(
            order=order, signature=signature, now=two_seconds_before
        )

    assert (refused.value.status, refused.value.code) == (409, "fee_deadline_too_close")
    assert "2 s away" in refused.value.message
    order.refresh_from_db()
    assert order.status == S.FAILED
    assert order.events.order_by("created_at").last().cause == "fee_deadline_too_close"
    assert enqueued == []


def test_a_signature_just_outside_the_margin_is_accepted(sim_trader, enqueued, settings):
    settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS = 10
    order, signature = _awaiting(sim_trader)
    in_time = deadlines.fee_deadline(order) - timedelta(seconds=11)

    accepted = fee_authorization.order_fee_authorization_submit(order=order, signature=signature, now=in_time)

    assert accepted.status == S.QUEUED


def test_a_disabled_customers_fee_signature_is_refused(sim_trader, enqueued):
    order, signature = _awaiting(sim_trader)
    Customer.objects.filter(pk=sim_trader.customer.pk).update(status=Customer.Status.DISABLED)

    refused = sim_trader.client.post(
        f"/api/v1/orders/{order.id}/fee-authorization", {"signature": signature}, format="json"
    )

    assert (refused.status_code, refused.json()["code"]) == (409, "customer_disabled")
    order.refresh_from_db()
    assert order.status == S.AWAITING_FEE_AUTH
    assert order.fee_authorization.state == "requested"
