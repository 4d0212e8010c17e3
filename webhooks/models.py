"""Webhook endpoints of partners, the deliveries of events to them (the outbox) and each attempt."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from generations.store import GenerationBumpingQuerySet


class WebhookEndpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(
        "customers.Partner", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2000)
    events = models.JSONField(default=list)  # event types, or ["*"] for every type
    description = models.CharField(max_length=500, blank=True, default="")
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The signing secret must be kept as it is (an HMAC key cannot be checked against a hash), so it is
    # shown to the partner once and never again: not in the API, the admin or a log line.
    secret = models.CharField(max_length=128)
    # After a rotation the previous secret keeps signing (a second signature) until this moment.
    previous_secret = models.CharField(max_length=128, blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    # The first failed attempt since the last success: the endpoint is disabled once this is old enough.
    failing_since = models.DateTimeField(null=True, blank=True)
    failure_streak = models.PositiveIntegerField(default=0)  # failed attempts in a row
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    # Delivery bookkeeping, written after every attempt: the cached endpoints (webhooks.services) read
    # none of it, so such an update bumps no generation.
    generation_ignored_fields = frozenset(
        {"last_success_at", "last_failure_at", "failing_since", "failure_streak"}
    )
    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [models.Index(fields=["partner", "-created_at", "-id"], name="webhooks_endpoint_partner")]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return "*" in self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event owed to one endpoint: the outbox row, retried on the schedule until it succeeds or fails."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # due at next_attempt_at
        DELIVERING = "delivering", "Delivering"  # an attempt holds it until leased_until
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # every attempt of the schedule failed; resendable

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    # When the last message for it was sent (or is due to arrive, for a delayed one): the sweep sends
    # another only for an attempt no message was sent for, or once that message is presumed lost, so a
    # backlog in the queue is never multiplied by copies of messages still waiting in it.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivering", "delivered", "failed"]),
                name="webhooks_delivery_status_valid",
            )
        ]
        indexes = [
            # The sweep: pending deliveries due, and attempts whose lease ran out (a worker died).
            models.Index(
                fields=["next_attempt_at"], condition=Q(status="pending"), name="webhooks_delivery_due"
            ),
            models.Index(
                fields=["leased_until"], condition=Q(status="delivering"), name="webhooks_delivery_leased"
            ),
            models.Index(fields=["endpoint", "status"], name="webhooks_delivery_endpoint"),
            models.Index(fields=["event"], name="webhooks_delivery_event"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} to {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, and what came back."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    event_id = models.CharField(max_length=32)
    event_type = models.CharField(max_length=64)
    number = models.PositiveIntegerField()  # 1 for the first attempt of the delivery
    success = models.BooleanField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")  # network error or refusal
    latency_ms = models.PositiveIntegerField(default=0)
    response_body = models.TextField(blank=True, default="")  # the first 1 KB
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhooks_attempt_endpoint"),
            models.Index(fields=["created_at"], name="webhooks_attempt_created"),  # the admin chart
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.event_id}: {self.status_code or self.error}"
