"""The webhook admin: endpoints with their health (never a secret), deliveries with filters and a
resend action, events searchable by object id, and the chart of attempts per hour by outcome."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import make_partner

from audit.services import Actor
from events.services import event_record
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery


@pytest.fixture
def hooked(db, receiver):
    partner = make_partner(name="Admin Partner")
    endpoint, secret = services.webhook_endpoint_create(
        actor=Actor.system("test"), partner_id=partner.pk, url=receiver.url, events=["*"], now=timezone.now()
    )
    event = event_record(
        partner_id=partner.pk,
        type="ping",
        object_type="webhook_endpoint",
        object_id="obj-admin-1",
        data={"message": "hi", "endpoint_id": str(endpoint.pk)},
        now=timezone.now(),
    )
    return endpoint, secret, event


def test_the_endpoint_list_shows_health_and_never_the_secret(admin_client, hooked):
    endpoint, secret, _ = hooked
    listed = admin_client.get("/admin/webhooks/webhookendpoint/")
    assert listed.status_code == 200
    assert endpoint.url in listed.content.decode()
    detail = admin_client.get(f"/admin/webhooks/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert secret not in detail
    assert secret.removeprefix("whsec_") not in detail


def test_staff_disable_and_enable_an_endpoint(admin_client, hooked):
    endpoint, _, _ = hooked
    for action, enabled in [("disable_endpoints", False), ("enable_endpoints", True)]:
        response = admin_client.post(
            "/admin/webhooks/webhookendpoint/", {"action": action, "_selected_action": [str(endpoint.pk)]}
        )
        assert response.status_code == 302
        endpoint.refresh_from_db()
        assert endpoint.enabled is enabled


def test_deliveries_filter_and_resend(admin_client, hooked):
    endpoint, _, event = hooked
    delivery = WebhookDelivery.objects.get()
    page = admin_client.get("/admin/webhooks/webhookdelivery/", {"status__exact": "pending"}).content.decode()
    assert event.id in page
    assert (
        event.id
        not in admin_client.get(
            "/admin/webhooks/webhookdelivery/", {"status__exact": "delivered"}
        ).content.decode()
    )
    assert (
        event.id
        in admin_client.get("/admin/webhooks/webhookdelivery/", {"q": "obj-admin-1"}).content.decode()
    )
    response = admin_client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "resend_deliveries", "_selected_action": [str(delivery.pk)]},
    )
    assert response.status_code == 302
    assert WebhookDelivery.objects.filter(event=event, endpoint=endpoint).count() == 2


def test_events_are_found_by_object_id(admin_client, hooked):
    _, _, event = hooked
    found = admin_client.get("/admin/events/event/", {"q": "obj-admin-1"}).content.decode()
    assert event.id in found
    assert event.id not in admin_client.get("/admin/events/event/", {"q": "obj-other"}).content.decode()
    assert admin_client.get(f"/admin/events/event/{event.id}/change/").status_code == 200


def test_the_chart_counts_attempts_per_hour_by_outcome(admin_client, hooked):
    endpoint, _, event = hooked
    delivery = WebhookDelivery.objects.get()
    now = timezone.now()
    for number, (success, status_code) in enumerate([(True, 200), (False, 500), (False, None)], start=1):
        WebhookAttempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            event_id=event.id,
            event_type="ping",
            number=number,
            success=success,
            status_code=status_code,
            created_at=now - timedelta(minutes=number),
        )
    page = admin_client.get("/admin/webhooks/webhookdelivery/chart/").content.decode()
    assert "Delivery attempts per hour by outcome" in page
    for outcome in ("delivered: 1", "HTTP error: 1", "network error or refused: 1"):
        assert outcome in page
    assert (
        "/admin/webhooks/webhookdelivery/chart/"
        in admin_client.get("/admin/webhooks/webhookdelivery/").content.decode()
    )
