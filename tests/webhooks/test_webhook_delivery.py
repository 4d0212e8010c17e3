"""One delivery at a time, driven with an injected clock: signing, the retry schedule, Retry-After,
failing, disabling after the streak, re-enabling, rotation, resend, the URL check at delivery time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import make_partner

from audit.services import Actor
from events.models import Event
from events.services import event_record
from webhooks import delivery as webhook_delivery
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

D = WebhookDelivery.Status
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.fixture
def endpoint(db, receiver, settings):
    settings.WEBHOOK_RETRY_SCHEDULE_SECONDS = SCHEDULE
    partner = make_partner(name="Hooked")
    endpoint, secret = services.webhook_endpoint_create(
        actor=Actor.system("test"), partner_id=partner.pk, url=receiver.url, events=["*"], now=T0
    )
    receiver.secrets = [secret]
    return endpoint


def ping(endpoint: WebhookEndpoint, *, now: datetime = T0) -> WebhookDelivery:
    event_record(
        partner_id=endpoint.partner_id,
        type="ping",
        object_type="webhook_endpoint",
        object_id=str(endpoint.pk),
        data={"message": "hello", "endpoint_id": str(endpoint.pk)},
        now=now,
    )
    return WebhookDelivery.objects.get(endpoint=endpoint, event__created_at=now)


def attempt(delivery: WebhookDelivery, now: datetime) -> str:
    return webhook_delivery.webhook_delivery_attempt(delivery_id=delivery.pk, now=now).outcome


def test_a_delivery_is_signed_so_that_standardwebhooks_verifies_it(endpoint, receiver):
    delivery = ping(endpoint)
    assert attempt(delivery, T0) == "delivered"
    [received] = receiver.snapshot()
    event = Event.objects.get()
    assert received.verified_by == [0]
    assert received.webhook_id == event.id
    assert received.body == event.body.encode()
    assert received.event["type"] == "ping"
    assert received.event["id"].startswith("evt_")
    assert received.event["timestamp"].endswith("Z")
    delivery.refresh_from_db()
    assert delivery.status == D.DELIVERED
    [row] = WebhookAttempt.objects.all()
    assert (row.success, row.status_code, row.response_body) == (True, 200, '{"ok": true}')
    endpoint.refresh_from_db()
    assert endpoint.last_success_at == T0


def test_failures_follow_the_schedule_then_the_delivery_fails_and_stays_resendable(endpoint, receiver):
    receiver.behaviour = lambda received: "500"
    delivery = ping(endpoint)
    now = T0
    for number, wait in enumerate(SCHEDULE[1:], start=1):
        assert attempt(delivery, now) == "retry"
        delivery.refresh_from_db()
        assert delivery.next_attempt_at == now + timedelta(seconds=wait), number
        # Not due a second early: nothing is sent.
        assert attempt(delivery, now + timedelta(seconds=wait) - timedelta(seconds=1)) == "not_claimed"
        now += timedelta(seconds=wait)
    assert attempt(delivery, now) == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (D.FAILED, 8, 500)
    assert len(receiver.snapshot()) == 8
    assert {item.webhook_id for item in receiver.snapshot()} == {delivery.event_id}

    receiver.behaviour = lambda received: "ok"
    [again] = services.webhook_event_resend(actor=Actor.system("test"), event=delivery.event, now=now)
    assert attempt(again, now) == "delivered"
    assert receiver.snapshot()[-1].webhook_id == delivery.event_id


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_429_and_503_sets_the_next_attempt(endpoint, receiver, status):
    receiver.behaviour = lambda received: (status, {"Retry-After": "120"})
    delivery = ping(endpoint)
    assert attempt(delivery, T0) == "retry"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == T0 + timedelta(seconds=120)  # not the schedule's 5 s


def test_a_redirect_is_not_followed(endpoint, receiver):
    receiver.behaviour = lambda received: (302, {"Location": "http://127.0.0.1:9/elsewhere"})
    delivery = ping(endpoint)
    assert attempt(delivery, T0) == "retry"
    assert WebhookAttempt.objects.get().status_code == 302
    assert len(receiver.snapshot()) == 1


def test_an_endpoint_failing_for_the_whole_streak_is_disabled_and_resumes_when_enabled(
    endpoint, receiver, settings
):
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 72
    receiver.behaviour = lambda received: "500"
    first = ping(endpoint)
    assert attempt(first, T0) == "retry"
    endpoint.refresh_from_db()
    assert endpoint.failing_since == T0
    assert endpoint.enabled
    later = T0 + timedelta(hours=72)
    second = ping(endpoint, now=later)
    assert attempt(second, later) == "retry"
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "72 hours" in endpoint.disabled_reason
    disabled_event = Event.objects.get(type="webhook_endpoint.disabled")
    assert disabled_event.object_id == str(endpoint.pk)
    # Disabled: nothing more is sent, what is pending stays pending.
    assert attempt(first, later + timedelta(hours=1)) == "endpoint_disabled"
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status=D.PENDING).count() == 2

    receiver.behaviour = lambda received: "ok"
    resumed_at = later + timedelta(hours=2)
    endpoint = services.webhook_endpoint_update(
        actor=Actor.system("test"), endpoint=endpoint, enabled=True, now=resumed_at
    )
    assert endpoint.enabled
    assert endpoint.failing_since is None
    assert endpoint.disabled_reason == ""
    for pending in WebhookDelivery.objects.filter(endpoint=endpoint, status=D.PENDING):
        assert pending.next_attempt_at == resumed_at
        assert attempt(pending, resumed_at) == "delivered"


def test_a_success_ends_the_failure_streak(endpoint, receiver):
    answers = iter(["500", "ok"])
    receiver.behaviour = lambda received: next(answers)
    delivery = ping(endpoint)
    attempt(delivery, T0)
    attempt(delivery, T0 + timedelta(seconds=5))
    endpoint.refresh_from_db()
    assert (endpoint.failing_since, endpoint.failure_streak, endpoint.last_success_at) == (
        None,
        0,
        T0 + timedelta(seconds=5),
    )


def test_after_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one(endpoint, receiver):
    old_secret = receiver.secrets[0]
    endpoint, new_secret = services.webhook_endpoint_rotate_secret(
        actor=Actor.system("test"), endpoint=endpoint, now=T0
    )
    assert new_secret != old_secret
    assert new_secret.startswith("whsec_")
    receiver.secrets = [old_secret, new_secret]
    attempt(ping(endpoint, now=T0 + timedelta(hours=1)), T0 + timedelta(hours=1))
    signed_twice = receiver.snapshot()[-1]
    assert len(signed_twice.signature.split(" ")) == 2
    assert signed_twice.verified_by == [0, 1]
    after = T0 + timedelta(hours=24, seconds=1)
    attempt(ping(endpoint, now=after), after)
    assert receiver.snapshot()[-1].verified_by == [1]
    assert len(receiver.snapshot()[-1].signature.split(" ")) == 1


def test_the_url_is_checked_again_at_delivery_time(endpoint, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # as if the host now resolved somewhere private
    delivery = ping(endpoint)
    assert attempt(delivery, T0) == "retry"
    [row] = WebhookAttempt.objects.all()
    assert row.status_code is None
    assert "loopback" in row.error
    assert receiver.snapshot() == []


def test_a_network_error_is_recorded_and_retried(endpoint, receiver):
    receiver.behaviour = lambda received: "reset"
    delivery = ping(endpoint)
    assert attempt(delivery, T0) == "retry"
    row = WebhookAttempt.objects.get()
    assert row.status_code is None
    assert row.error.startswith("network error")


def test_a_timeout_is_recorded_and_retried(endpoint, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.hold_seconds = 1.0
    receiver.behaviour = lambda received: "timeout"
    delivery = ping(endpoint)
    assert attempt(delivery, T0) == "retry"
    assert WebhookAttempt.objects.get().error == "timed out after 0.3 s"


def test_an_endpoint_has_at_most_its_bound_of_attempts_in_flight(endpoint, receiver, settings):
    settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT = 1
    held = ping(endpoint)
    # An attempt in progress elsewhere holds the endpoint's only slot.
    WebhookDelivery.objects.filter(pk=held.pk).update(
        status=D.DELIVERING, leased_until=T0 + timedelta(seconds=30)
    )
    waiting = ping(endpoint, now=T0 + timedelta(microseconds=1))
    assert attempt(waiting, T0 + timedelta(seconds=1)) == "busy"
    assert receiver.snapshot() == []
    waiting.refresh_from_db()
    assert waiting.status == D.PENDING
    assert waiting.next_attempt_at == T0 + timedelta(seconds=2)


def test_a_delivery_whose_worker_died_is_swept_and_sent_again(endpoint, receiver, monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(services, "enqueue_now", lambda name, delivery_id: sent.append(delivery_id))
    delivery = ping(endpoint)
    # Claimed by a worker that then died: its lease runs out.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=D.DELIVERING, attempts=1, leased_until=T0 + timedelta(seconds=30)
    )
    assert services.webhook_deliveries_sweep(now=T0 + timedelta(seconds=10)) == 0
    assert services.webhook_deliveries_sweep(now=T0 + timedelta(seconds=31)) == 1
    assert sent == [str(delivery.pk)]
    assert attempt(delivery, T0 + timedelta(seconds=31)) == "delivered"
    assert receiver.snapshot()[0].webhook_id == delivery.event_id


def test_the_sweep_sends_far_off_retries_and_never_copies_a_message_still_waiting(
    endpoint, receiver, monkeypatch, settings
):
    settings.WEBHOOK_SWEEP_PRESUMED_LOST_SECONDS = 300
    sent: list[str] = []
    monkeypatch.setattr(services, "enqueue_now", lambda name, delivery_id: sent.append(delivery_id))
    waiting = ping(endpoint)
    # Its message is in the queue (a backlog delays it): no copy, until it is presumed lost.
    assert services.webhook_deliveries_sweep(now=T0 + timedelta(seconds=60)) == 0
    assert services.webhook_deliveries_sweep(now=T0 + timedelta(seconds=301)) == 1
    assert services.webhook_deliveries_sweep(now=T0 + timedelta(seconds=302)) == 0
    assert sent == [str(waiting.pk)]

    # A retry 5 minutes away gets no delayed message: the sweep sends it once it is due.
    receiver.behaviour = lambda received: "500"
    now = T0 + timedelta(seconds=400)
    assert attempt(waiting, now) == "retry"
    assert attempt(waiting, now + timedelta(seconds=5)) == "retry"
    waiting.refresh_from_db()
    assert waiting.next_attempt_at == now + timedelta(seconds=305)
    assert services.webhook_deliveries_sweep(now=now + timedelta(seconds=304)) == 0
    assert services.webhook_deliveries_sweep(now=now + timedelta(seconds=305)) == 1
    assert services.webhook_deliveries_sweep(now=now + timedelta(seconds=306)) == 0
