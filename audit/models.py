"""The audit trail: one append-only row per staff or partner action that changes money or trading."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    FEE_CHANGED = "fee.changed", "fee changed"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    PARTNER_SUSPENDED = "partner.suspended", "partner suspended"
    PARTNER_REACTIVATED = "partner.reactivated", "partner reactivated"
    CUSTOMER_DISABLED = "customer.disabled", "customer disabled"
    CUSTOMER_ENABLED = "customer.enabled", "customer enabled"
    HALT_SET = "halt.set", "trading halt set"
    HALT_LIFTED = "halt.lifted", "trading halt lifted"
    ORDERS_MASS_CANCEL = "orders.mass_cancel", "mass cancel"
    HEARTBEAT_ARMED = "heartbeat.armed", "dead-man switch armed"
    HEARTBEAT_DISARMED = "heartbeat.disarmed", "dead-man switch disarmed"
    HEARTBEAT_FIRED = "heartbeat.fired", "dead-man switch fired"
    ORDER_RESENT = "order.resent", "order resent"
    WEBHOOK_RESENT = "webhook.resent", "webhook delivery resent"
    PAYOUT_CREATED = "payout.created", "payout created"
    PAYOUT_PAID = "payout.paid", "payout paid"
    PAYOUT_CANCELLED = "payout.cancelled", "payout cancelled"
    COMMISSION_REVERSED = "commission.reversed", "commission reversed"
    PAYOUT_DETAILS_CHANGED = "payout_details.changed", "payout address changed"
    WEBHOOK_ENDPOINT_CREATED = "webhook_endpoint.created", "webhook endpoint created"
    WEBHOOK_ENDPOINT_CHANGED = "webhook_endpoint.changed", "webhook endpoint changed"
    WEBHOOK_ENDPOINT_DELETED = "webhook_endpoint.deleted", "webhook endpoint deleted"
    WEBHOOK_SECRET_ROTATED = "webhook_endpoint.secret_rotated", "webhook secret rotated"
    RATE_LIMIT_CHANGED = "rate_limit.changed", "rate limit changed"


class AuditEntry(models.Model):
    """Who did what to which object, when and from where; never edited or deleted.

    On PostgreSQL a trigger refuses UPDATE and DELETE of these rows (migration 0001), so not even a
    bug or a staff shell can rewrite history; the admin offers neither.
    """

    class ActorType(models.TextChoices):
        STAFF = "staff", "staff user"
        PARTNER_KEY = "partner_key", "partner API key"
        SYSTEM = "system", "the platform itself"

    created_at = models.DateTimeField(db_index=True)
    # An AuditAction value. No `choices=` here: a new action is then a code change, not a migration.
    action = models.CharField(max_length=48)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # A staff user is kept by id and by name: the name stays readable if the user is renamed.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_key_prefix = models.CharField(max_length=8, blank=True)  # the partner key's public prefix
    actor_label = models.CharField(max_length=150)  # "staff alice", "key bp_abcd1234…", "system: …"
    # Whose money or trading the action touched (none for a global halt). By string: audit sits left
    # of customers and imports nothing from it.
    partner = models.ForeignKey(
        "customers.Partner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=300)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["partner", "-created_at"], name="audit_partner_created"),
            models.Index(fields=["action", "-created_at"], name="audit_action_created"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor_type__in=["staff", "partner_key", "system"]),
                name="audit_auditentry_actor_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} by {self.actor_label}"
