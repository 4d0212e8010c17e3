"""One delivery attempt: claim the row, check the URL again, POST the signed body, record the outcome.

The claim is a conditional UPDATE (one attempt at a time per delivery) made under the endpoint's row
lock, which also bounds how many attempts one endpoint has in flight: a slow or failing partner holds
at most WEBHOOK_ENDPOINT_MAX_IN_FLIGHT worker slots, and the rest keep serving everyone else. No HTTP
runs inside a transaction. A worker that dies mid-attempt leaves the row `delivering` with a lease;
once the lease runs out the sweep hands it to another worker, and the receiver dedupes on webhook-id.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q

from builder_platform import metrics
from builder_platform.enqueue import enqueue_on_commit
from events.services import event_record
from webhooks import destinations, signing
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.services import DELIVER_TASK, secrets_in_force

logger = logging.getLogger(__name__)
D = WebhookDelivery.Status
RESPONSE_KEEP_BYTES = 1024
RETRY_AFTER_MAX_SECONDS = 36_000.0  # never wait longer than the schedule's longest step


@dataclass(frozen=True)
class SendResult:
    status_code: int | None  # None: no HTTP answer (network error, timeout, refusal)
    body: str = ""
    retry_after: float | None = None  # seconds, from a 429's or 503's Retry-After
    error: str = ""  # without an HTTP answer: what went wrong
    retry_after_header: str = ""

    @property
    def success(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


Sender = Callable[[str, dict[str, str], bytes], SendResult]


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            seconds = (parsedate_to_datetime(value) - now).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _http_client() -> httpx.Client:
    # One client per process: building one builds a TLS context, which costs more than a local request.
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(follow_redirects=False, trust_env=False)
        return _client


def http_send(url: str, headers: dict[str, str], body: bytes) -> SendResult:
    """POST once: connect within WEBHOOK_CONNECT_TIMEOUT_SECONDS, all within WEBHOOK_TIMEOUT_SECONDS,
    no redirect followed, the first 1 KB of the answer kept."""
    total = settings.WEBHOOK_TIMEOUT_SECONDS
    deadline = time.monotonic() + total
    timeout = httpx.Timeout(total, connect=settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS)
    try:
        with _http_client().stream("POST", url, content=body, headers=headers, timeout=timeout) as response:
            kept = b""
            for chunk in response.iter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEEP_BYTES or time.monotonic() > deadline:
                    break
            return SendResult(
                status_code=response.status_code,
                body=kept[:RESPONSE_KEEP_BYTES].decode("utf-8", "replace"),
                retry_after_header=response.headers.get("retry-after", ""),
            )
    except httpx.TimeoutException:
        return SendResult(status_code=None, error=f"timed out after {total:g} s")
    except httpx.HTTPError as error:
        return SendResult(status_code=None, error=f"network error: {type(error).__name__}")


@dataclass(frozen=True)
class AttemptOutcome:
    outcome: str  # delivered, retry, failed, busy, not_claimed, endpoint_disabled
    next_attempt_at: datetime | None = None


def _claim(*, delivery_id: uuid.UUID | str, now: datetime) -> tuple[WebhookDelivery | None, str]:
    lease = timedelta(seconds=settings.WEBHOOK_DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        delivery = WebhookDelivery.objects.filter(id=delivery_id).first()
        if delivery is None or delivery.status in (D.DELIVERED, D.FAILED):
            return None, "not_claimed"
        endpoint = WebhookEndpoint.objects.select_for_update().filter(id=delivery.endpoint_id).first()
        if endpoint is None:
            return None, "not_claimed"
        if not endpoint.enabled:
            return None, "endpoint_disabled"  # stays pending: re-enabling sends it
        in_flight = WebhookDelivery.objects.filter(
            endpoint_id=endpoint.pk, status=D.DELIVERING, leased_until__gt=now
        ).count()
        if in_flight >= settings.WEBHOOK_ENDPOINT_MAX_IN_FLIGHT:
            retry_at = now + timedelta(seconds=settings.WEBHOOK_BUSY_RETRY_SECONDS)
            if WebhookDelivery.objects.filter(
                id=delivery.pk, status=D.PENDING, next_attempt_at__lte=now
            ).update(next_attempt_at=retry_at, enqueued_at=retry_at):
                enqueue_on_commit(
                    DELIVER_TASK, str(delivery.pk), countdown=settings.WEBHOOK_BUSY_RETRY_SECONDS
                )
            return None, "busy"
        # Due, or held by an attempt whose worker died (its lease ran out).
        claimed = WebhookDelivery.objects.filter(
            Q(status=D.PENDING, next_attempt_at__lte=now) | Q(status=D.DELIVERING, leased_until__lte=now),
            id=delivery.pk,
        ).update(status=D.DELIVERING, leased_until=now + lease, attempts=F("attempts") + 1)
        if claimed != 1:
            return None, "not_claimed"
    return WebhookDelivery.objects.select_related("endpoint", "event").get(id=delivery.pk), "claimed"


def webhook_delivery_attempt(
    *, delivery_id: uuid.UUID | str, now: datetime, send: Sender = http_send
) -> AttemptOutcome:
    """Make one attempt of a delivery if it is due; `now` drives every decision (tests pass a clock)."""
    delivery, state = _claim(delivery_id=delivery_id, now=now)
    if delivery is None:
        metrics.webhook_delivery_attempted(outcome=state)
        return AttemptOutcome(outcome=state)
    endpoint = delivery.endpoint
    event = delivery.event
    body = event.body.encode()
    started = time.monotonic()
    try:
        destinations.url_check(endpoint.url)  # again: what the host resolves to may have changed
    except destinations.DestinationRefused as refusal:
        result = SendResult(status_code=None, error=f"refused: {refusal.message}")
    else:
        timestamp = int(time.time())  # the real time of sending: receivers check it against their clock
        headers = {
            "content-type": "application/json",
            "user-agent": "builder-platform-webhooks/1",
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                secrets_in_force=secrets_in_force(endpoint, now=now),
                message_id=event.id,
                timestamp=timestamp,
                body=body,
            ),
        }
        result = send(endpoint.url, headers, body)
        if result.status_code is not None and result.status_code in (429, 503):
            result = SendResult(
                status_code=result.status_code,
                body=result.body,
                retry_after=result.retry_after
                if result.retry_after is not None
                else retry_after_seconds(result.retry_after_header, now=now),
            )
        elif result.status_code is not None:
            result = SendResult(status_code=result.status_code, body=result.body)
    latency_ms = int((time.monotonic() - started) * 1000)
    attempt = _record(delivery=delivery, endpoint=endpoint, result=result, latency_ms=latency_ms, now=now)
    metrics.webhook_delivery_attempted(outcome=attempt.outcome)
    return attempt


def _record(
    *,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    result: SendResult,
    latency_ms: int,
    now: datetime,
) -> AttemptOutcome:
    schedule = settings.WEBHOOK_RETRY_SCHEDULE_SECONDS
    error = result.error if result.status_code is None else ""
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            endpoint=endpoint,
            event_id=delivery.event_id,
            event_type=delivery.event.type,
            number=delivery.attempts,
            success=result.success,
            status_code=result.status_code,
            error=error[:500],
            latency_ms=latency_ms,
            response_body=result.body[:RESPONSE_KEEP_BYTES],
            created_at=now,
        )
        mine = WebhookDelivery.objects.filter(id=delivery.pk, status=D.DELIVERING, attempts=delivery.attempts)
        if result.success:
            mine.update(
                status=D.DELIVERED,
                delivered_at=now,
                leased_until=None,
                last_status_code=result.status_code,
                last_error="",
            )
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                last_success_at=now, failing_since=None, failure_streak=0
            )
            return AttemptOutcome(outcome="delivered")
        last_error = error or f"HTTP {result.status_code}"
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            last_failure_at=now, failure_streak=F("failure_streak") + 1
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        _disable_if_failing_too_long(endpoint_id=endpoint.pk, now=now)
        if delivery.attempts >= len(schedule):
            mine.update(
                status=D.FAILED,
                leased_until=None,
                next_attempt_at=None,
                last_status_code=result.status_code,
                last_error=last_error[:500],
            )
            return AttemptOutcome(outcome="failed")
        delay = float(schedule[delivery.attempts])
        if result.retry_after is not None:
            delay = result.retry_after  # the receiver said when to come back (429 / 503)
        retry_at = now + timedelta(seconds=delay)
        # Longer waits are left to the sweep: a broker holding a message for hours is no record.
        delayed_message = delay <= settings.WEBHOOK_COUNTDOWN_MAX_SECONDS
        if (
            mine.update(
                status=D.PENDING,
                leased_until=None,
                next_attempt_at=retry_at,
                # The sweep sends what no message was sent for: a delayed message counts as sent.
                enqueued_at=retry_at if delayed_message else F("enqueued_at"),
                last_status_code=result.status_code,
                last_error=last_error[:500],
            )
            and delayed_message
        ):
            enqueue_on_commit(DELIVER_TASK, str(delivery.pk), countdown=delay)
    logger.info(
        "webhook %s to endpoint %s failed (%s); retry at %s",
        delivery.event_id,
        endpoint.pk,
        last_error,
        retry_at,
    )
    return AttemptOutcome(outcome="retry", next_attempt_at=retry_at)


def _disable_if_failing_too_long(*, endpoint_id: uuid.UUID, now: datetime) -> None:
    hours = settings.WEBHOOK_DISABLE_AFTER_HOURS
    cutoff = now - timedelta(hours=hours)
    reason = (
        f"Disabled after failing every attempt for {hours} hours "
        "(since the first failure after its last success)."
    )
    if not WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True, failing_since__lte=cutoff).update(
        enabled=False, disabled_reason=reason, disabled_at=now, updated_at=now
    ):
        return
    from webhooks.services import endpoint_json

    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    event_record(
        partner_id=endpoint.partner_id,
        type="webhook_endpoint.disabled",
        object_type="webhook_endpoint",
        object_id=str(endpoint.pk),
        data=endpoint_json(endpoint),
        now=now,
    )
