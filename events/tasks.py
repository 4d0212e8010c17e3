"""Event log upkeep as Celery tasks."""

from celery import shared_task
from django.utils import timezone

from events import services


@shared_task(name="events.purge")
def events_purge_task() -> int:
    return services.events_purge(now=timezone.now())
