"""Real answers of every webhook and event operation validate strictly against the served schema
(an undeclared field fails), events of each kind of object included."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from factories import make_fee_authorization
from orders_support import order_body
from schema_support import assert_conforms, served_schema

from events.models import Event
from fees.event_log import fee_event_record
from orders.transitions import order_transition
from parsec.client import decode_json
from webhooks import delivery as webhook_delivery
from webhooks.models import WebhookDelivery


def test_every_webhook_and_event_answer_conforms_to_the_schema(trader, receiver, settings):
    schema = served_schema(trader.client)
    client = trader.client

    def check(method: str, path: str, response, status: int):
        assert response.status_code == status, (method, path, response.content)
        return assert_conforms(schema, method, path, response)

    created = check(
        "POST",
        "/api/v1/webhook-endpoints",
        client.post("/api/v1/webhook-endpoints", {"url": receiver.url, "events": ["*"]}, format="json"),
        201,
    )
    receiver.secrets = [created["secret"]]
    endpoint = f"/api/v1/webhook-endpoints/{created['id']}"
    check("GET", "/api/v1/webhook-endpoints", client.get("/api/v1/webhook-endpoints"), 200)
    check("GET", endpoint, client.get(endpoint), 200)
    check("PATCH", endpoint, client.patch(endpoint, {"description": "main"}, format="json"), 200)
    check("POST", f"{endpoint}/rotate-secret", client.post(f"{endpoint}/rotate-secret"), 200)
    check("POST", f"{endpoint}/test", client.post(f"{endpoint}/test"), 202)

    # Events of every kind of object: an order created and updated, a customer, a fill, a fee, a ping.
    order = decode_json(trader.post_order(order_body(price=Decimal("0.25"), size=Decimal("3"))).content)
    now = timezone.now()
    order_transition(
        order_id=order["id"], from_statuses=["queued"], to_status="cancelled", cause="t", now=now
    )
    client.patch(f"/api/v1/customers/{trader.customer.id}", {"status": "disabled"}, format="json")
    client.patch(f"/api/v1/customers/{trader.customer.id}", {"status": "active"}, format="json")
    fee_event_record(
        fee_authorization_id=make_fee_authorization(customer=trader.customer, fee_amount=1000).pk,
        type="fee.refunded",
        now=now,
    )
    types = set(Event.objects.values_list("type", flat=True))
    assert types >= {"order.created", "order.updated", "customer.active", "fee.refunded", "ping"}
    page = check("GET", "/api/v1/events", client.get("/api/v1/events"), 200)
    assert {item["type"] for item in page["results"]} == types
    for item in page["results"]:
        check("GET", f"/api/v1/events/{item['id']}", client.get(f"/api/v1/events/{item['id']}"), 200)
    check(
        "POST",
        f"/api/v1/events/{order['id']}/resend",
        client.post(f"/api/v1/events/{page['results'][0]['id']}/resend"),
        202,
    )
    for pending in WebhookDelivery.objects.all()[:3]:
        webhook_delivery.webhook_delivery_attempt(delivery_id=pending.pk, now=timezone.now())
    attempts = check("GET", f"{endpoint}/deliveries", client.get(f"{endpoint}/deliveries"), 200)
    assert attempts["results"]
    check("GET", "/api/v1/events/evt_x", client.get("/api/v1/events/evt_x"), 404)
    assert client.delete(endpoint).status_code == 204
    assert "204" in schema["paths"]["/api/v1/webhook-endpoints/{endpoint_id}"]["delete"]["responses"]
