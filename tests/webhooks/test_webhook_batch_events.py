"""Events recorded in a batch (the submission's) get the same deliveries as events recorded one by one."""

from __future__ import annotations

import pytest
from django.utils import timezone

from events.services import EventToRecord, event_record, events_record_many
from tests.factories import make_partner
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _endpoint(partner, *, events: list[str], enabled: bool = True) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(
        partner=partner,
        url="https://hooks.example.com/in",
        events=events,
        secret="whsec_test",
        enabled=enabled,
        created_at=timezone.now(),
        updated_at=timezone.now(),
    )


def _deliveries(events) -> list[tuple[str, str]]:
    return sorted(
        (delivery.event.object_id, str(delivery.endpoint_id))
        for delivery in WebhookDelivery.objects.filter(event__in=events).select_related("event")
    )


def test_a_batch_of_events_is_delivered_to_the_same_endpoints_as_one_event_at_a_time():
    hooked, other, silent = (
        make_partner(name="Hooked"),
        make_partner(name="Other"),
        make_partner(name="Silent"),
    )
    everything = _endpoint(hooked, events=["*"])
    _endpoint(hooked, events=["order.created"])  # subscribes to another type
    _endpoint(hooked, events=["*"], enabled=False)
    updates = _endpoint(other, events=["order.updated"])
    now = timezone.now()
    specs = [
        EventToRecord(
            partner_id=partner.pk,
            type="order.updated",
            object_type="order",
            object_id=f"{label}-{index}",
            data={"status": "open"},
            version=2,
        )
        for index, (partner, label) in enumerate([(hooked, "a"), (other, "b"), (silent, "c"), (hooked, "d")])
    ]

    batched = events_record_many(specs, now=now)
    one_by_one = [
        event_record(
            partner_id=spec.partner_id,
            type=spec.type,
            object_type=spec.object_type,
            object_id=spec.object_id + "-alone",
            data=spec.data,
            version=spec.version,
            now=now,
        )
        for spec in specs
    ]

    assert _deliveries(batched) == sorted(
        [("a-0", str(everything.pk)), ("b-1", str(updates.pk)), ("d-3", str(everything.pk))]
    )
    assert [(object_id + "-alone", endpoint) for object_id, endpoint in _deliveries(batched)] == _deliveries(
        one_by_one
    )
    assert [event.version for event in batched] == [2, 2, 2, 2]
