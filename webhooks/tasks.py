"""Webhook work as Celery tasks on the `webhooks` queue: one attempt of a delivery, and the sweep."""

from celery import shared_task
from django.utils import timezone

from webhooks import delivery, services


@shared_task(name="webhooks.deliver")
def webhook_deliver_task(delivery_id: str) -> str:
    # Retries are scheduled by the attempt itself (the row's next_attempt_at; a message after commit).
    return delivery.webhook_delivery_attempt(delivery_id=delivery_id, now=timezone.now()).outcome


@shared_task(name="webhooks.sweep")
def webhook_sweep_task() -> int:
    return services.webhook_deliveries_sweep(now=timezone.now())
