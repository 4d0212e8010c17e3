"""Reads of worker heartbeats: is any worker alive, and since when has one been running."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max, Min

from workers.models import WorkerHeartbeat


def _alive_since(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS)


def worker_last_seen_at() -> datetime | None:
    """The latest heartbeat of any worker, or None when none was ever recorded."""
    return WorkerHeartbeat.objects.aggregate(latest=Max("last_seen_at"))["latest"]


def worker_alive_since(*, now: datetime) -> datetime | None:
    """Since when workers have run without a gap, judged by the live ones; None when none is alive.

    The earliest start among the workers alive now: a live worker started at that moment and has
    been consuming since.
    """
    return WorkerHeartbeat.objects.filter(last_seen_at__gte=_alive_since(now)).aggregate(
        since=Min("started_at")
    )["since"]


def worker_is_alive(heartbeat: WorkerHeartbeat, *, now: datetime) -> bool:
    return heartbeat.last_seen_at >= _alive_since(now)
