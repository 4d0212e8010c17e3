"""A partner can touch no other partner's order, customer or idempotency key, on any endpoint."""

from __future__ import annotations

import pytest
from orders_support import make_trader, order_body, place

from orders.models import Order

pytestmark = pytest.mark.django_db

S = Order.Status


@pytest.fixture
def other(tradable_exchanges):
    return make_trader(name="Other Partner")


def test_another_partners_order_is_the_same_404_as_a_missing_one_on_every_endpoint(trader, other, enqueued):
    order = place(trader)
    url = f"/api/v1/orders/{order.id}"

    answers = [
        other.client.get(url),
        other.client.delete(url),
        other.client.post(f"{url}/fee-authorization", {"signature": "0x" + "1" * 130}, format="json"),
    ]

    for response in answers:
        assert response.status_code == 404
        assert response.json() == {
            "error": "No order with this id.",
            "code": "not_found",
            "request_id": response["X-Request-Id"],
        }
    order.refresh_from_db()
    assert order.status == S.QUEUED
    assert order.cancel_requested_at is None
    assert other.client.get("/api/v1/orders").json()["results"] == []
    assert other.client.get("/api/v1/orders", {"customer": str(trader.customer.id)}).json()["results"] == []


def test_a_partner_cannot_place_orders_for_another_partners_customer(trader, other, enqueued):
    response = other.post_order(order_body(), customer_id=str(trader.customer.id))
    assert response.status_code == 404
    assert not Order.objects.exists()


def test_idempotency_keys_belong_to_one_partner(trader, other, enqueued):
    mine = trader.post_order(order_body(), key="shared-key")
    theirs = other.post_order(order_body(), key="shared-key")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert Order.objects.filter(partner=trader.partner).count() == 1
    assert Order.objects.filter(partner=other.partner).count() == 1


def test_every_order_endpoint_requires_a_key(trader, enqueued, api_client):
    order = place(trader)
    for method, url in [
        ("get", "/api/v1/orders"),
        ("post", "/api/v1/orders?exchange=kalshi"),
        ("get", f"/api/v1/orders/{order.id}"),
        ("delete", f"/api/v1/orders/{order.id}"),
        ("post", f"/api/v1/orders/{order.id}/fee-authorization"),
        ("get", "/api/v1/exchanges"),
        ("get", "/api/v1/markets"),
    ]:
        response = getattr(api_client, method)(url)
        assert response.status_code == 401, (method, url)
