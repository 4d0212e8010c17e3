"""A Celery consumer bootstep that keeps this worker's heartbeat row fresh while it consumes.

It runs on the worker's own timer, in the consumer: while the worker is cut off from the broker (the
consumer reconnecting) or wedged, no heartbeat is written, so readiness says so.
"""

from __future__ import annotations

import logging
import os

from celery import bootsteps
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

logger = logging.getLogger(__name__)


class WorkerHeartbeatStep(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent, **kwargs) -> None:
        self.timer_entry = None
        super().__init__(parent, **kwargs)

    def start(self, consumer) -> None:
        self._touch(consumer.hostname, restarted=True)
        self.timer_entry = consumer.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_INTERVAL_SECONDS, self._touch, (consumer.hostname,), priority=10
        )

    def stop(self, consumer) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    def shutdown(self, consumer) -> None:
        self.stop(consumer)
        from workers.services import worker_heartbeat_remove

        try:
            worker_heartbeat_remove(hostname=consumer.hostname)
        except DatabaseError as error:
            logger.warning("worker heartbeat not removed: %s", error)

    def _touch(self, hostname: str, restarted: bool = False) -> None:
        from workers.services import worker_heartbeat_touch

        try:
            close_old_connections()  # a connection the database closed meanwhile is replaced
            worker_heartbeat_touch(
                hostname=hostname, pid=os.getpid(), now=timezone.now(), restarted=restarted
            )
        except DatabaseError as error:
            # The database being away is readiness's other check; the worker itself carries on.
            logger.warning("worker heartbeat not recorded: %s", error)
