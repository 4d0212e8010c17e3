"""Queue Celery tasks by name once the rows they read are committed.

Services enqueue through `enqueue_on_commit` and never import their app's `tasks` module: tasks import
services, so the arrow runs one way. The task names are the routing keys in `CELERY_TASK_ROUTES`.

A broker outage must not fail work that already committed: the database row is the record of what
must happen, and each app's sweep re-enqueues what was not sent. The failure is logged, not raised.
"""

import logging
from collections.abc import Callable, Iterable
from typing import Any

from celery import current_app
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerUnavailable

logger = logging.getLogger(__name__)


def enqueue_now(task_name: str, *args: Any, countdown: float | None = None) -> bool:
    """Send one task message at once; False (logged) when the broker cannot take it."""
    try:
        current_app.send_task(task_name, args=list(args), countdown=countdown)
    except BrokerUnavailable:
        logger.warning("broker unavailable; %s %s left for the sweep", task_name, list(args))
        return False
    return True


def enqueue_on_commit(
    task_name: str,
    *args: Any,
    countdown: float | None = None,
    args_at_send: Callable[[], Iterable[Any]] | None = None,
) -> None:
    """Send `task_name(*args)` after the current transaction commits (at once outside one).

    `args_at_send`, when given, adds arguments computed at the moment of sending (for example the
    time the message left, which a task compares with its last run).
    """

    def send() -> None:
        extra = list(args_at_send()) if args_at_send else []
        enqueue_now(task_name, *args, *extra, countdown=countdown)

    transaction.on_commit(send)


def enqueue_many_on_commit(task_name: str, arguments: Iterable[Any]) -> None:
    """One message per argument, all sent after commit; nothing when there is none."""
    values = list(arguments)
    if not values:
        return

    def send() -> None:
        for value in values:
            enqueue_now(task_name, value)

    transaction.on_commit(send)
