"""A minute's snapshot of the figures /metrics shows, so the admin can chart the last hour."""

from django.db import models


class MetricSample(models.Model):
    """Every figure of one moment (counter totals and database gauges), as {name: number}.

    Written once a minute by beat (monitoring.sample) and pruned after METRICS_SAMPLE_RETENTION_HOURS.
    Counters restart at zero when the system restarts: the dashboard reads a drop as a restart.
    """

    taken_at = models.DateTimeField(unique=True)
    figures = models.JSONField(default=dict)  # fee figures are integer USDC base units

    class Meta:
        ordering = ["-taken_at"]
        verbose_name = "metrics dashboard"
        verbose_name_plural = "metrics dashboard"

    def __str__(self) -> str:
        return f"figures at {self.taken_at:%Y-%m-%d %H:%M} UTC"
