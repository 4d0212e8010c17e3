"""The partner API of webhook endpoints and the event log: secrets shown once, URL rules, pages,
filters, and isolation between partners (another partner's object answers the same 404)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from factories import make_api_key, make_partner
from rest_framework.test import APIClient

from events.services import event_record
from webhooks.models import WebhookDelivery, WebhookEndpoint

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def client_of(partner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(partner=partner)[1])
    return client


@pytest.fixture
def alice(db):
    return make_partner(name="Alice Markets")


@pytest.fixture
def bob(db):
    return make_partner(name="Bob Markets")


def create(client, url="https://hooks.example.com/in", events=("*",), **extra):
    return client.post(
        "/api/v1/webhook-endpoints", {"url": url, "events": list(events), **extra}, format="json"
    )


def record(partner, kind="ping", *, object_id="obj-1", now=T0, deliver=True):
    return event_record(
        partner_id=partner.pk,
        type=kind,
        object_type="webhook_endpoint",
        object_id=object_id,
        data={"message": "hi", "endpoint_id": "00000000-0000-0000-0000-000000000000"},
        now=now,
        deliver=deliver,
    )


def test_an_endpoint_is_created_with_a_secret_shown_once(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True  # hooks.example.com need not resolve here
    client = client_of(alice)
    response = create(client, events=["order.updated", "order.created"], description="prod")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert len(base64.b64decode(body["secret"].removeprefix("whsec_"))) >= 24
    assert body["events"] == ["order.created", "order.updated"]
    assert body["enabled"] is True
    read = client.get(f"/api/v1/webhook-endpoints/{body['id']}").json()
    assert "secret" not in read
    assert read["url"] == "https://hooks.example.com/in"
    listed = client.get("/api/v1/webhook-endpoints").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert all("secret" not in item for item in listed["results"])
    rotated = client.post(f"/api/v1/webhook-endpoints/{body['id']}/rotate-secret")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] not in (body["secret"], None)
    assert rotated.json()["secret_rotated_until"] is not None


def test_patch_and_delete_an_endpoint(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    client = client_of(alice)
    endpoint_id = create(client).json()["id"]
    changed = client.patch(
        f"/api/v1/webhook-endpoints/{endpoint_id}",
        {"events": ["fee.settled"], "enabled": False, "description": "paused"},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["events"] == ["fee.settled"]
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] == "Disabled by the partner."
    assert client.delete(f"/api/v1/webhook-endpoints/{endpoint_id}").status_code == 204
    assert client.get(f"/api/v1/webhook-endpoints/{endpoint_id}").status_code == 404


def test_unknown_event_types_and_unknown_fields_are_refused(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    client = client_of(alice)
    response = create(client, events=["order.exploded"])
    assert response.status_code == 400
    assert response.json()["fields"]["events"]
    assert create(client, events=[]).status_code == 400
    assert create(client, secret="whsec_mine").status_code == 400


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1/hook", "loopback"),
        ("https://localhost:8443/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://[fe80::1]/hook", "link-local"),
        ("http://93.184.215.14/hook", "https"),
        ("ftp://93.184.215.14/hook", "https"),
        ("https://user:pw@93.184.215.14/hook", "password"),
    ],
)
def test_urls_to_private_addresses_or_without_https_are_refused(alice, settings, url, why):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_ALLOW_HTTP = False
    response = create(client_of(alice), url=url)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "url_not_allowed"
    assert why in response.json()["error"]
    assert not WebhookEndpoint.objects.exists()


def test_a_public_https_address_is_accepted_with_the_private_switch_off(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    settings.WEBHOOK_ALLOW_HTTP = False
    assert create(client_of(alice), url="https://93.184.215.14/hook").status_code == 201


def test_events_page_by_cursor_and_filter(alice):
    client = client_of(alice)
    events = [
        record(alice, object_id=f"obj-{index % 2}", now=T0 + timedelta(seconds=index)) for index in range(5)
    ]
    first = client.get("/api/v1/events", {"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert [item["id"] for item in page["results"]] == [events[4].id, events[3].id]
    second = client.get("/api/v1/events", {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [item["id"] for item in second["results"]] == [events[2].id, events[1].id]
    third = client.get("/api/v1/events", {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [item["id"] for item in third["results"]] == [events[0].id]
    assert third["next_cursor"] is None

    by_object = client.get("/api/v1/events", {"object_id": "obj-1"}).json()["results"]
    assert [item["id"] for item in by_object] == [events[3].id, events[1].id]
    window = client.get(
        "/api/v1/events",
        {
            "created_after": (T0 + timedelta(seconds=1)).isoformat(),
            "created_before": (T0 + timedelta(seconds=4)).isoformat(),
        },
    ).json()["results"]
    assert [item["id"] for item in window] == [events[3].id, events[2].id]
    assert client.get("/api/v1/events", {"type": "order.created"}).json()["results"] == []
    one = client.get(f"/api/v1/events/{events[0].id}").json()
    assert one == {
        "id": events[0].id,
        "type": "ping",
        "timestamp": "2026-03-01T12:00:00.000000Z",
        "data": {"message": "hi", "endpoint_id": "00000000-0000-0000-0000-000000000000", "version": 1},
    }


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({"type": "order.exploded"}, "type"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2026-03-01T12:00:00"}, "created_before"),
        ({"kind": "ping"}, "kind"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_bad_event_filters_answer_400_naming_them(alice, parameters, field):
    response = client_of(alice).get("/api/v1/events", parameters)
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_partner_sees_none_of_another_partners_events_or_endpoints(alice, bob, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    alice_client, bob_client = client_of(alice), client_of(bob)
    endpoint_id = create(alice_client).json()["id"]
    event = record(alice)
    assert bob_client.get("/api/v1/events").json()["results"] == []
    assert bob_client.get("/api/v1/webhook-endpoints").json()["results"] == []
    for method, path in [
        ("get", f"/api/v1/events/{event.id}"),
        ("post", f"/api/v1/events/{event.id}/resend"),
        ("get", f"/api/v1/webhook-endpoints/{endpoint_id}"),
        ("patch", f"/api/v1/webhook-endpoints/{endpoint_id}"),
        ("delete", f"/api/v1/webhook-endpoints/{endpoint_id}"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint_id}/rotate-secret"),
        ("post", f"/api/v1/webhook-endpoints/{endpoint_id}/test"),
        ("get", f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries"),
        ("get", "/api/v1/events/evt_00000000000000000000000000"),
        ("get", "/api/v1/webhook-endpoints/not-a-uuid"),
    ]:
        kwargs = {"data": {"enabled": False}, "format": "json"} if method == "patch" else {}
        response = getattr(bob_client, method)(path, **kwargs)
        assert response.status_code == 404, (method, path, response.content)
        assert response.json()["code"] == "not_found"
    assert WebhookEndpoint.objects.get(pk=endpoint_id).enabled  # untouched
    # An event of Alice's reaches only Alice's endpoints.
    assert {delivery.endpoint_id for delivery in WebhookDelivery.objects.all()} == {
        WebhookEndpoint.objects.get().pk
    }


def test_resend_and_test_create_deliveries_with_the_events_id(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    client = client_of(alice)
    event = record(alice, "order.created", deliver=False)
    assert client.post(f"/api/v1/events/{event.id}/resend").status_code == 409  # no endpoint yet
    endpoint_id = create(client, events=["order.created"]).json()["id"]
    resent = client.post(f"/api/v1/events/{event.id}/resend")
    assert resent.status_code == 202
    [delivery] = resent.json()["deliveries"]
    assert delivery["event_id"] == event.id
    assert delivery["endpoint_id"] == endpoint_id
    assert delivery["status"] == "pending"
    pinged = client.post(f"/api/v1/webhook-endpoints/{endpoint_id}/test")
    assert pinged.status_code == 202
    ping_event = client.get(f"/api/v1/events/{pinged.json()['event_id']}").json()
    assert ping_event["type"] == "ping"
    assert client.get(f"/api/v1/webhook-endpoints/{endpoint_id}/deliveries").json()["results"] == []


def test_the_lists_take_a_fixed_number_of_queries(alice, settings, django_assert_max_num_queries):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    client = client_of(alice)
    for index in range(30):
        record(alice, now=T0 + timedelta(seconds=index))
        create(client)
    # Key lookup and its touch, then the page.
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/events").json()["results"]) == 30
    with django_assert_max_num_queries(4):
        assert len(client.get("/api/v1/webhook-endpoints").json()["results"]) == 30


@pytest.mark.parametrize(
    "moment", ["2026-01-01T00:00:00+16:00", "2026-01-01T00:00:00-16:00", "0202-12-11T05:00:09+21:32"]
)
def test_event_filters_take_any_offset_python_reads_and_answer_in_utc(partner_client, moment):
    response = partner_client.get("/api/v1/events", {"created_after": moment, "created_before": moment})
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


def test_an_event_filter_at_the_end_of_the_calendar_is_a_400(partner_client):
    response = partner_client.get("/api/v1/events", {"created_after": "0001-01-01T00:00:00+01:00"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "created_after" in body["fields"]
