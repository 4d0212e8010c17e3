"""Webhook endpoint changes and resends, through the partner API and the admin, are audited: one row
each, naming the key by its prefix (or the staff user), never a signing secret; a refusal writes none."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from factories import make_api_key, make_partner
from rest_framework.test import APIClient

from audit.models import AuditEntry
from events.services import event_record
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db

IP = "203.0.113.44"
URL = "https://hooks.example.com/in"


@pytest.fixture
def partner_key(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    partner = make_partner(name="Audited Hooks")
    api_key, raw_key = make_api_key(partner=partner)
    client = APIClient(REMOTE_ADDR=IP)
    client.credentials(HTTP_X_API_KEY=raw_key)
    return partner, api_key, client


def rows(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action))


def assert_by_key(entry: AuditEntry, partner, api_key) -> None:
    assert (entry.actor_type, entry.actor_key_prefix, entry.partner_id, entry.ip) == (
        "partner_key",
        api_key.prefix,
        partner.pk,
        IP,
    )


def test_create_change_rotate_and_delete_are_one_row_each_without_a_secret(partner_key):
    partner, api_key, client = partner_key
    created = client.post("/api/v1/webhook-endpoints", {"url": URL, "events": ["*"]}, format="json").json()
    endpoint = f"/api/v1/webhook-endpoints/{created['id']}"
    assert client.patch(endpoint, {"events": ["order.created"]}, format="json").status_code == 200
    assert client.patch(endpoint, {"events": ["order.created"]}, format="json").status_code == 200  # no-op
    rotated = client.post(f"{endpoint}/rotate-secret").json()
    assert client.delete(endpoint).status_code == 204

    [made] = rows("webhook_endpoint.created")
    [changed] = rows("webhook_endpoint.changed")
    [rotation] = rows("webhook_endpoint.secret_rotated")
    [deleted] = rows("webhook_endpoint.deleted")
    for entry in (made, changed, rotation, deleted):
        assert_by_key(entry, partner, api_key)
        assert (entry.target_type, entry.target_id) == ("webhook_endpoint", created["id"])
    assert made.after == {"url": URL, "events": ["*"], "enabled": True, "description": ""}
    assert (changed.before, changed.after) == ({"events": ["*"]}, {"events": ["order.created"]})
    assert deleted.before["events"] == ["order.created"]
    everything = " ".join(str(value) for row in AuditEntry.objects.values_list() for value in row)
    for secret in (created["secret"], rotated["secret"]):
        assert secret.removeprefix("whsec_") not in everything


def test_a_refused_endpoint_writes_no_row(partner_key, settings):
    _, _, client = partner_key
    settings.WEBHOOK_ALLOW_HTTP = False
    response = client.post("/api/v1/webhook-endpoints", {"url": "ftp://x", "events": ["*"]}, format="json")
    assert response.status_code == 400
    assert not rows("webhook_endpoint.created")


def test_an_event_resent_through_the_api_is_one_row_and_a_refused_resend_none(partner_key):
    partner, api_key, client = partner_key
    event = event_record(
        partner_id=partner.pk,
        type="order.created",
        object_type="order",
        object_id="order-1",
        data={"id": "order-1"},
        now=timezone.now(),
        deliver=False,
    )
    assert client.post(f"/api/v1/events/{event.id}/resend").status_code == 409  # no endpoint yet
    assert not rows("webhook.resent")
    endpoint_id = client.post(
        "/api/v1/webhook-endpoints", {"url": URL, "events": ["*"]}, format="json"
    ).json()["id"]

    resent = client.post(f"/api/v1/events/{event.id}/resend")

    assert resent.status_code == 202
    [entry] = rows("webhook.resent")
    assert_by_key(entry, partner, api_key)
    assert (entry.target_type, entry.target_id) == ("event", event.id)
    assert entry.after["endpoints"] == [endpoint_id]
    assert entry.after["deliveries"] == [resent.json()["deliveries"][0]["id"]]


def test_a_delivery_resent_and_an_endpoint_disabled_in_the_admin_name_the_staff_user(partner_key, client):
    partner, _, api_client = partner_key
    endpoint_id = api_client.post(
        "/api/v1/webhook-endpoints", {"url": URL, "events": ["*"]}, format="json"
    ).json()["id"]
    event_record(
        partner_id=partner.pk,
        type="order.created",
        object_type="order",
        object_id="order-2",
        data={"id": "order-2"},
        now=timezone.now(),
    )
    delivery = WebhookDelivery.objects.get()
    user = get_user_model().objects.create_superuser("hook-admin", "h@example.com", "pw")
    client.force_login(user)

    client.post(
        "/admin/webhooks/webhookdelivery/",
        {"action": "resend_deliveries", "_selected_action": [str(delivery.pk)]},
        REMOTE_ADDR="198.51.100.5",
    )
    client.post(
        "/admin/webhooks/webhookendpoint/",
        {"action": "disable_endpoints", "_selected_action": [endpoint_id]},
        REMOTE_ADDR="198.51.100.5",
    )

    [resent] = rows("webhook.resent")
    [disabled] = rows("webhook_endpoint.changed")
    for entry in (resent, disabled):
        assert (entry.actor_type, entry.actor_user_id, entry.ip, entry.partner_id) == (
            "staff",
            user.pk,
            "198.51.100.5",
            partner.pk,
        )
    assert (disabled.before, disabled.after) == ({"enabled": True}, {"enabled": False})
