"""The Celery application: JSON only, late acks, one message at a time, a queue per kind of work."""

import os

from celery import Celery
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

# filesystem:// (the embedded default) uses our atomic variant of kombu's transport: see broker.py.
TRANSPORT_ALIASES["filesystem"] = "builder_platform.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")

app = Celery("builder_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # A task is acknowledged after it ran, and given back if its worker dies mid-way, so a crash
    # never silently drops work; every task is written to be safe to run twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    # Nothing reads task results: state lives in the database.
    task_ignore_result=True,
    result_backend=None,
    task_default_queue="default",
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="UTC",
)


def configure_queues() -> None:
    from django.conf import settings

    app.conf.task_queues = [Queue(name, routing_key=name) for name in settings.TASK_QUEUE_NAMES]


configure_queues()
app.autodiscover_tasks()
