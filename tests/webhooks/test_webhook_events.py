"""Events are written by the transaction of the change they report, with the object as the API shows it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from orders_support import order_body

from audit.services import Actor
from events.models import Event
from orders.models import Order
from orders.transitions import order_transition
from parsec.client import decode_json

S = Order.Status


def events_of(order_id) -> list[dict]:
    return [
        decode_json(event.body)
        for event in Event.objects.filter(object_id=str(order_id)).order_by("created_at", "id")
    ]


def test_an_order_created_at_intake_has_its_event_with_the_order_as_the_api_returns_it(trader):
    response = trader.post_order(order_body(price=Decimal("0.25"), size=Decimal("3")))
    assert response.status_code == 201
    created = decode_json(response.content)
    [event] = events_of(created["id"])
    assert event["type"] == "order.created"
    assert event["data"] == created  # the same object, version included
    assert created["version"] == 1
    assert Event.objects.get().partner_id == trader.partner.pk


def test_a_transition_writes_order_updated_with_the_previous_status_and_a_higher_version(trader):
    order_id = decode_json(trader.post_order(order_body()).content)["id"]
    now = timezone.now()
    assert order_transition(
        order_id=order_id, from_statuses=[S.QUEUED], to_status=S.SUBMITTING, cause="t", now=now
    )
    assert order_transition(
        order_id=order_id, from_statuses=[S.SUBMITTING], to_status=S.OPEN, cause="t", now=now
    )
    created, updated = events_of(order_id)  # the internal claim (submitting) is no event
    assert updated["type"] == "order.updated"
    assert (updated["data"]["previous_status"], updated["data"]["status"]) == ("queued", "open")
    assert updated["data"]["version"] == 3 > created["data"]["version"]
    assert Order.objects.get(pk=order_id).version == 3
    assert trader.client.get(f"/api/v1/orders/{order_id}").json()["version"] == 3


def test_a_change_that_rolls_back_leaves_no_event(trader):
    order_id = decode_json(trader.post_order(order_body()).content)["id"]

    def cancel_then_fail() -> None:
        with transaction.atomic():
            order_transition(
                order_id=order_id,
                from_statuses=[S.QUEUED],
                to_status=S.CANCELLED,
                cause="t",
                now=timezone.now(),
            )
            raise RuntimeError("the caller's later write failed")

    with pytest.raises(RuntimeError):
        cancel_then_fail()
    assert [event["type"] for event in events_of(order_id)] == ["order.created"]
    assert Order.objects.get(pk=order_id).status == S.QUEUED


def test_a_transition_that_loses_the_race_writes_no_event(trader):
    order_id = decode_json(trader.post_order(order_body()).content)["id"]
    lost = order_transition(
        order_id=order_id, from_statuses=[S.OPEN], to_status=S.FILLED, cause="t", now=timezone.now()
    )
    assert lost is False
    assert [event["type"] for event in events_of(order_id)] == ["order.created"]


def test_a_customer_enabled_again_records_customer_active(trader):
    client, customer = trader.client, trader.customer
    assert (
        client.patch(f"/api/v1/customers/{customer.id}", {"status": "disabled"}, format="json").status_code
        == 200
    )
    assert not Event.objects.filter(type="customer.active").exists()
    enabled = client.patch(f"/api/v1/customers/{customer.id}", {"status": "active"}, format="json")
    assert enabled.status_code == 200
    [event] = [decode_json(event.body) for event in Event.objects.filter(type="customer.active")]
    assert event["data"]["id"] == str(customer.id)
    assert event["data"]["status"] == "active"
    assert event["data"]["version"] == 1


def test_events_older_than_the_retention_are_purged_with_their_deliveries(trader, settings):
    from datetime import timedelta

    from events.services import event_record, events_purge
    from webhooks import services
    from webhooks.models import WebhookDelivery

    settings.WEBHOOK_EVENT_RETENTION_DAYS = 30
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    now = timezone.now()
    services.webhook_endpoint_create(
        actor=Actor.system("test"),
        partner_id=trader.partner.pk,
        url="https://hooks.test/in",
        events=["*"],
        now=now,
    )

    def ping(at):
        return event_record(
            partner_id=trader.partner.pk,
            type="ping",
            object_type="webhook_endpoint",
            object_id="retention",
            data={"message": "hi", "endpoint_id": "00000000-0000-0000-0000-000000000000"},
            now=at,
        )

    old, kept = ping(now - timedelta(days=30, seconds=1)), ping(now - timedelta(days=29))
    assert events_purge(now=now) == 1
    assert list(Event.objects.values_list("id", flat=True)) == [kept.id]
    assert set(WebhookDelivery.objects.values_list("event_id", flat=True)) == {kept.id}
    assert old.id not in set(Event.objects.values_list("id", flat=True))
