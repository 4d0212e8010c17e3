"""Writes of worker heartbeats."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from workers.models import WorkerHeartbeat


def worker_heartbeat_touch(*, hostname: str, pid: int, now: datetime, restarted: bool = False) -> None:
    """Record that this worker is consuming; `restarted` when it (re)connected to the broker just now."""
    fields = {"pid": pid, "last_seen_at": now}
    if restarted:
        fields["started_at"] = now
    if WorkerHeartbeat.objects.filter(hostname=hostname).update(**fields):
        return
    try:
        with transaction.atomic():
            WorkerHeartbeat.objects.create(hostname=hostname, **{"started_at": now, **fields})
    except IntegrityError:  # the same worker's previous touch won a race; it exists now
        WorkerHeartbeat.objects.filter(hostname=hostname).update(**fields)


def worker_heartbeat_remove(*, hostname: str) -> None:
    """A worker stopping cleanly says so at once, rather than waiting to look stale."""
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()
