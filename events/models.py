"""Events: what happened to a partner's objects, each as the exact JSON body a webhook carries."""

from __future__ import annotations

from django.db import models


class Event(models.Model):
    """One fact (an order changed, a fill, a fee settled), immutable once written.

    `body` is the exact JSON every delivery of it sends, rendered once, inside the transaction of the
    change: `{"id", "type", "timestamp", "data"}`. The other columns are for finding it.
    """

    id = models.CharField(primary_key=True, max_length=32, editable=False)  # evt_ + 26 sortable characters
    # By string: events sits left of customers and imports nothing from it.
    partner = models.ForeignKey("customers.Partner", on_delete=models.CASCADE, related_name="+")
    type = models.CharField(max_length=64)
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=100)  # a UUID, or an escrow order id (66) for a fee without order
    # The object's monotonic version after this change: a receiver ignores an older one arriving late.
    version = models.PositiveBigIntegerField(null=True, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(fields=["partner", "-created_at", "-id"], name="events_partner_created"),
            models.Index(fields=["partner", "type", "-created_at"], name="events_partner_type"),
            models.Index(fields=["partner", "object_id", "-created_at"], name="events_partner_object"),
            models.Index(fields=["object_type", "object_id", "-version"], name="events_object_version"),
            models.Index(fields=["created_at"], name="events_created"),  # retention
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"
