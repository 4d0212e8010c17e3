"""One row per Celery worker (by its host name), touched every WORKER_HEARTBEAT_INTERVAL_SECONDS."""

from django.db import models


class WorkerHeartbeat(models.Model):
    hostname = models.CharField(max_length=255, unique=True)  # Celery's node name, e.g. celery@host
    pid = models.PositiveIntegerField()
    # When this run of the worker connected to the broker; a restart moves it.
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return self.hostname
