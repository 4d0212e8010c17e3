"""Beat's minute sample of the figures (the dashboard's last hour)."""

from celery import shared_task
from django.utils import timezone

from monitoring.services import metric_sample_record


@shared_task(name="monitoring.sample")
def metric_sample_task() -> str:
    return metric_sample_record(now=timezone.now()).taken_at.isoformat()
