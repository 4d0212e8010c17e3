"""Chaos, bounded: 300 events to a receiver that fails 30% of requests (500, timeout, connection reset),
through a real Celery worker. Every event is delivered, none is lost, and the only duplicates are
retries of one webhook-id after a failure."""

from __future__ import annotations

import hashlib
from collections import Counter

from django.utils import timezone
from factories import make_partner
from orders_support import wait_until

from audit.services import Actor
from events.models import Event
from events.services import event_record
from webhooks import services
from webhooks.models import WebhookDelivery

EVENTS = 300
FAILURES = ("500", "timeout", "reset")


def test_every_event_reaches_a_receiver_failing_30_percent_once_and_none_is_lost(
    celery_worker, receiver, settings
):
    # Retries in fractions of a second instead of minutes; a longer schedule than the default so that
    # 30% failures cannot plausibly exhaust it (0.3**15 per event).
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = (
        0,
        0.1,
        0.2,
        0.3,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
        0.5,
    )
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.4
    settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS = 0.4
    settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = 2
    settings.WEBHOOK_BUSY_RETRY_SECONDS = 0.05
    receiver.hold_seconds = 0.8
    seen: Counter[str] = Counter()

    def behaviour(received) -> str:
        # Each request of each webhook-id draws its fate from a hash: 30% fail, in three ways.
        seen[received.webhook_id] += 1
        draw = int(
            hashlib.sha256(f"{received.webhook_id}:{seen[received.webhook_id]}".encode()).hexdigest(), 16
        )
        return FAILURES[(draw // 100) % 3] if draw % 100 < 30 else "ok"

    receiver.behaviour = behaviour
    partner = make_partner(name="Chaos Partner")
    endpoint, secret = services.webhook_endpoint_create(
        actor=Actor.system("test"), partner_id=partner.pk, url=receiver.url, events=["*"], now=timezone.now()
    )
    receiver.secrets = [secret]
    for index in range(EVENTS):
        event_record(
            partner_id=partner.pk,
            type="ping",
            object_type="webhook_endpoint",
            object_id=f"chaos-{index}",
            data={"message": f"event {index}", "endpoint_id": str(endpoint.pk)},
            now=timezone.now(),
        )

    def all_delivered() -> bool:
        return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == EVENTS

    wait_until(all_delivered, timeout=240, interval=0.5)

    event_ids = set(Event.objects.values_list("id", flat=True))
    received = receiver.snapshot()
    answered_ok = Counter(item.webhook_id for item in received if item.answered == "ok")
    assert set(answered_ok) == event_ids  # none lost
    assert set(answered_ok.values()) == {1}  # each accepted exactly once
    assert {item.webhook_id for item in received} == event_ids  # nothing else was sent
    assert all(item.verified_by == [0] for item in received)
    failures = Counter(item.answered for item in received if item.answered != "ok")
    assert set(failures) == set(FAILURES), failures
    # A failed request is followed by a retry of the same webhook-id, and nothing more after its success.
    for webhook_id in event_ids:
        answers = [item.answered for item in received if item.webhook_id == webhook_id]
        assert answers[-1] == "ok", answers
        assert all(answer != "ok" for answer in answers[:-1]), answers
    assert not WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.DELIVERED).exists()
