"""Webhook endpoints (create, change, rotate, delete), deliveries created with each event, resend, sweep."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from audit.models import AuditAction
from audit.services import Actor, audit_record
from builder_platform.enqueue import enqueue_many_on_commit, enqueue_now
from builder_platform.failures import DomainError
from events.models import Event
from events.registry import EVENT_TYPES, WILDCARD
from events.services import event_record
from generations.store import ReadCache
from webhooks import destinations, signing
from webhooks.models import WebhookDelivery, WebhookEndpoint

# A partner's enabled endpoints, by partner id, as each event's deliveries are made for them.
_ENABLED_ENDPOINTS = ReadCache()

DELIVER_TASK = "webhooks.deliver"
SECRET_OVERLAP = timedelta(hours=24)
D = WebhookDelivery.Status


class WebhookError(DomainError):
    """A refused webhook request (bad URL, unknown event type, nothing to resend)."""


def endpoint_url_validate(url: str) -> str:
    try:
        destinations.url_check(url)
    except destinations.DestinationRefused as refusal:
        raise WebhookError(refusal.message, code="url_not_allowed", field="url") from None
    return url


def endpoint_events_validate(events: list[str]) -> list[str]:
    if not events:
        raise WebhookError(
            'events must name at least one event type, or "*".', code="validation_error", field="events"
        )
    unknown = [name for name in events if name != WILDCARD and name not in EVENT_TYPES]
    if unknown:
        raise WebhookError(
            f'Unknown event type {unknown[0]!r}; the types are: {", ".join(EVENT_TYPES)} (or "*" for all).',
            code="validation_error",
            field="events",
        )
    return [WILDCARD] if WILDCARD in events else sorted(set(events), key=list(EVENT_TYPES).index)


def _endpoint_audit_view(endpoint: WebhookEndpoint) -> dict[str, object]:
    """What the audit trail keeps of an endpoint: where it sends and what, never its secret."""
    return {
        "url": endpoint.url,
        "events": list(endpoint.events),
        "enabled": endpoint.enabled,
        "description": endpoint.description,
    }


def _endpoint_audit(
    *,
    action: AuditAction,
    endpoint: WebhookEndpoint,
    actor: Actor,
    summary: str,
    now: datetime,
    before: dict | None = None,
    after: dict | None = None,
) -> None:
    audit_record(
        action=action,
        actor=actor,
        target_type="webhook_endpoint",
        target_id=endpoint.pk,
        partner_id=endpoint.partner_id,
        summary=summary,
        before=before,
        after=after,
        now=now,
    )


@transaction.atomic
def webhook_endpoint_create(
    *, partner_id: int, url: str, events: list[str], actor: Actor, description: str = "", now: datetime
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (returned once; the caller shows it and forgets it)."""
    endpoint_url_validate(url)
    secret = signing.secret_new()
    endpoint = WebhookEndpoint.objects.create(
        partner_id=partner_id,
        url=url,
        events=endpoint_events_validate(events),
        description=description,
        secret=secret,
        created_at=now,
        updated_at=now,
    )
    _endpoint_audit(
        action=AuditAction.WEBHOOK_ENDPOINT_CREATED,
        endpoint=endpoint,
        actor=actor,
        summary=f"Webhook endpoint {endpoint.pk} created for {url}.",
        after=_endpoint_audit_view(endpoint),
        now=now,
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor,
    now: datetime,
    url: str | None = None,
    events: list[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields: dict[str, object] = {"updated_at": now}
    if url is not None:
        fields["url"] = endpoint_url_validate(url)
    if events is not None:
        fields["events"] = endpoint_events_validate(events)
    if description is not None:
        fields["description"] = description
    if enabled is not None and enabled != endpoint.enabled:
        fields["enabled"] = enabled
        if enabled:
            # A fresh start: the streak that disabled it is over, and what is still pending goes now.
            fields.update(disabled_reason="", disabled_at=None, failing_since=None, failure_streak=0)
        else:
            fields.update(disabled_reason="Disabled by the partner.", disabled_at=now)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**fields)
    if fields.get("enabled") is True:
        webhook_endpoint_resume(endpoint_id=endpoint.pk, now=now)
    before = _endpoint_audit_view(endpoint)
    endpoint.refresh_from_db()
    after = _endpoint_audit_view(endpoint)
    changed = [name for name in after if after[name] != before[name]]
    if changed:  # a PATCH that sets what is already there changes nothing, and is no audit row
        _endpoint_audit(
            action=AuditAction.WEBHOOK_ENDPOINT_CHANGED,
            endpoint=endpoint,
            actor=actor,
            summary=f"Webhook endpoint {endpoint.pk} changed: {', '.join(changed)}.",
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
            now=now,
        )
    return endpoint


def webhook_endpoint_resume(*, endpoint_id: uuid.UUID, now: datetime) -> int:
    """Send an enabled endpoint's pending deliveries now (in the caller's transaction)."""
    pending = WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=D.PENDING)
    ids = [str(value) for value in pending.values_list("id", flat=True)]
    pending.update(next_attempt_at=now, enqueued_at=now)
    enqueue_many_on_commit(DELIVER_TASK, ids)
    return len(ids)


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, actor: Actor, now: datetime
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the one it replaces keeps signing for 24 h, so each delivery carries both."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    secret = signing.secret_new()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        secret=secret,
        previous_secret=endpoint.secret,
        previous_secret_expires_at=now + SECRET_OVERLAP,
        updated_at=now,
    )
    endpoint.refresh_from_db()
    # Neither secret is kept here: only when the old one stops signing.
    _endpoint_audit(
        action=AuditAction.WEBHOOK_SECRET_ROTATED,
        endpoint=endpoint,
        actor=actor,
        summary=f"Signing secret of webhook endpoint {endpoint.pk} rotated.",
        after={"previous_secret_expires_at": endpoint.previous_secret_expires_at.isoformat()},
        now=now,
    )
    return endpoint, secret


def secrets_in_force(endpoint: WebhookEndpoint, *, now: datetime) -> list[str]:
    in_force = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        in_force.append(endpoint.previous_secret)
    return in_force


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor, now: datetime) -> None:
    deleted, _ = WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()
    if deleted:
        _endpoint_audit(
            action=AuditAction.WEBHOOK_ENDPOINT_DELETED,
            endpoint=endpoint,
            actor=actor,
            summary=f"Webhook endpoint {endpoint.pk} ({endpoint.url}) deleted.",
            before=_endpoint_audit_view(endpoint),
            now=now,
        )


def _deliveries_create(
    *, event: Event, endpoints: list[WebhookEndpoint], now: datetime
) -> list[WebhookDelivery]:
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                status=D.PENDING,
                next_attempt_at=now,
                enqueued_at=now,
                created_at=now,
            )
            for endpoint in endpoints
        ]
    )
    enqueue_many_on_commit(DELIVER_TASK, [str(delivery.id) for delivery in deliveries])
    return deliveries


def webhook_deliveries_create(event: Event) -> None:
    """The events registry's hook: in the event's own transaction, one delivery per subscribed endpoint.

    The delivery rows are the outbox: they commit with the event or not at all, and the sweep sends
    what a lost message left behind. The partner's enabled endpoints come from this process's read
    cache (generations.store): an endpoint created, changed or disabled anywhere bumps its generation.
    """
    enabled = _ENABLED_ENDPOINTS.get(
        event.partner_id,
        lambda: tuple(WebhookEndpoint.objects.filter(partner_id=event.partner_id, enabled=True)),
        in_transaction=True,
    )
    endpoints = [endpoint for endpoint in enabled if endpoint.subscribes_to(event.type)]
    if endpoints:
        _deliveries_create(event=event, endpoints=endpoints, now=event.created_at)


@transaction.atomic
def webhook_event_resend(
    *, event: Event, actor: Actor, now: datetime, endpoint_id: uuid.UUID | None = None
) -> list[WebhookDelivery]:
    """Deliver an event again (same webhook-id) to the partner's enabled endpoints that subscribe to it."""
    endpoints = WebhookEndpoint.objects.filter(partner_id=event.partner_id, enabled=True)
    if endpoint_id is not None:
        endpoints = endpoints.filter(pk=endpoint_id)
    chosen = [endpoint for endpoint in endpoints if endpoint.subscribes_to(event.type)]
    if not chosen:
        raise WebhookError(
            "No enabled webhook endpoint of yours subscribes to this event's type; "
            "create or enable one first.",
            code="no_webhook_endpoint",
            status=409,
        )
    deliveries = _deliveries_create(event=event, endpoints=chosen, now=now)
    audit_record(
        action=AuditAction.WEBHOOK_RESENT,
        actor=actor,
        target_type="event",
        target_id=event.id,
        partner_id=event.partner_id,
        summary=f"Event {event.id} ({event.type}) resent to {len(deliveries)} endpoint(s).",
        after={
            "deliveries": [str(delivery.id) for delivery in deliveries],
            "endpoints": [str(endpoint.pk) for endpoint in chosen],
        },
        now=now,
    )
    return deliveries


@transaction.atomic
def webhook_endpoint_ping(*, endpoint: WebhookEndpoint, now: datetime) -> WebhookDelivery:
    """A `ping` event in the partner's log, delivered to this endpoint only (even a disabled one is not)."""
    if not endpoint.enabled:
        raise WebhookError(
            "This endpoint is disabled; enable it before testing it.", code="endpoint_disabled", status=409
        )
    event = event_record(
        partner_id=endpoint.partner_id,
        type="ping",
        object_type="webhook_endpoint",
        object_id=str(endpoint.pk),
        data={"message": "A test event from the builder platform.", "endpoint_id": str(endpoint.pk)},
        now=now,
        deliver=False,
    )
    return _deliveries_create(event=event, endpoints=[endpoint], now=now)[0]


def webhook_delivery_resend(*, delivery: WebhookDelivery, actor: Actor, now: datetime) -> WebhookDelivery:
    """The admin's resend of one delivery: a new delivery of its event to the same endpoint."""
    return webhook_event_resend(event=delivery.event, actor=actor, now=now, endpoint_id=delivery.endpoint_id)[
        0
    ]


def webhook_deliveries_sweep(*, now: datetime, limit: int = 1000) -> int:
    """Send again what a lost message or a dead worker left: a pending delivery due with no message sent
    for its attempt (a retry too far off for a delayed message), an attempt whose lease ran out, and
    any of them whose message was sent WEBHOOK_SWEEP_PRESUMED_LOST_SECONDS ago and never ran."""
    lost = now - timedelta(seconds=settings.WEBHOOK_SWEEP_PRESUMED_LOST_SECONDS)
    never_sent = Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=lost)
    due = (
        WebhookDelivery.objects.filter(
            (
                Q(status=D.PENDING, next_attempt_at__lte=now)
                & (never_sent | Q(enqueued_at__lt=F("next_attempt_at")))
            )
            | (
                Q(status=D.DELIVERING, leased_until__lte=now)
                & (never_sent | Q(enqueued_at__lt=F("leased_until")))
            ),
            endpoint__enabled=True,
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
    ids = [str(value) for value in due]
    WebhookDelivery.objects.filter(id__in=ids).update(enqueued_at=now)
    for delivery_id in ids:
        enqueue_now(DELIVER_TASK, delivery_id)
    return len(ids)


def endpoint_json(endpoint: WebhookEndpoint) -> dict[str, object]:
    """An endpoint as the API shows it (never its secret)."""

    def moment(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": str(endpoint.pk),
        "url": endpoint.url,
        "events": list(endpoint.events),
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason or None,
        "disabled_at": moment(endpoint.disabled_at),
        "last_success_at": moment(endpoint.last_success_at),
        "failing_since": moment(endpoint.failing_since),
        "failure_streak": endpoint.failure_streak,
        "secret_rotated_until": moment(endpoint.previous_secret_expires_at),
        "created_at": moment(endpoint.created_at),
        "updated_at": moment(endpoint.updated_at),
    }
