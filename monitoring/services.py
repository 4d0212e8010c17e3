"""The minute samples behind the dashboard's last hour: taken by beat, pruned after a day."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from monitoring.figures import figures_now
from monitoring.models import MetricSample


def metric_sample_record(*, now: datetime) -> MetricSample:
    """Store every figure as of `now`, to the minute (a second run in the same minute overwrites it).

    The figures are read first, outside the transaction: they include a round to the broker.
    """
    figures = figures_now(now=now)
    with transaction.atomic():
        sample, _ = MetricSample.objects.update_or_create(
            taken_at=now.replace(second=0, microsecond=0), defaults={"figures": figures}
        )
        MetricSample.objects.filter(
            taken_at__lt=now - timedelta(hours=settings.METRICS_SAMPLE_RETENTION_HOURS)
        ).delete()
    return sample
