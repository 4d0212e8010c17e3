"""The Celery application: JSON only, late acks, one message at a time, a queue per kind of work."""

import os

from billiard import pool as billiard_pool
from celery import Celery, signals
from kombu import Queue
from kombu.transport import TRANSPORT_ALIASES

from builder_platform import task_context  # noqa: F401  (connects the log context's signal handlers)
from workers.steps import WorkerHeartbeatStep

# filesystem:// (the embedded default) uses our atomic variant of kombu's transport, and redis:// one
# that survives a lost connection: see broker.py.
TRANSPORT_ALIASES["filesystem"] = "builder_platform.broker:Transport"
TRANSPORT_ALIASES["redis"] = "builder_platform.broker:RedisTransport"

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
    # Reconnect for as long as the broker is away: the default gives up after 100 attempts (about
    # 45 minutes) and the worker then exits.
    broker_connection_retry=True,
    broker_connection_max_retries=None,
    worker_hijack_root_logger=False,
    timezone="UTC",
)


# How long a stopping worker waits for its pool's shared job-queue lock before it stops without it.
POOL_LOCK_WAIT_SECONDS = 1.0


def _help_stuff_finish_bounded(inqueue, task_handler, _pool) -> None:
    """billiard's pool shutdown step, with a bounded wait for the job queue's read lock.

    With a transport that has no event loop (the filesystem broker), the prefork pool's children share
    one job queue and an idle child blocks on it holding its read lock. A child killed then (SIGKILL,
    the OOM killer) never releases it, and billiard's shutdown waited for that lock forever: the worker
    said "Warm shutdown" and hung until it was killed. The lock only guards draining jobs nobody will
    run any more, so after a short wait the shutdown goes on without it.
    """
    if not inqueue._rlock.acquire(timeout=POOL_LOCK_WAIT_SECONDS):
        return
    while task_handler.is_alive() and inqueue._reader.poll():
        inqueue._reader.recv()


billiard_pool.Pool._help_stuff_finish = staticmethod(_help_stuff_finish_bounded)


def configure_queues() -> None:
    from django.conf import settings

    app.conf.task_queues = [Queue(name, routing_key=name) for name in settings.TASK_QUEUE_NAMES]


configure_queues()
app.autodiscover_tasks()
# Each worker keeps a heartbeat row fresh while it consumes; /readyz and the admin read it.
app.steps["consumer"].add(WorkerHeartbeatStep)


@signals.celeryd_init.connect
def _io_pool_concurrency(sender=None, conf=None, options=None, **kwargs) -> None:
    """A thread-pool worker with no --concurrency runs CELERY_IO_CONCURRENCY threads, not one per core.

    The I/O-bound queues (submission, cancel, reconciliation, webhooks) spend their time waiting on
    Parsec: a thread per in-flight call costs little, and one process then keeps many orders moving.
    Celery would otherwise size every pool by the number of cores, right for prefork's CPU work only.
    """
    from django.conf import settings

    if conf is None or options is None or options.get("concurrency"):
        return
    # The command line hands the pool over as `pool_cls` (a name such as "threads", or a class).
    pool = options.get("pool_cls") or options.get("pool") or ""
    if "thread" in str(getattr(pool, "__module__", pool)).lower():
        # The worker reads its size from the configuration right after this signal (the options
        # here are a copy); one worker per process, so the process's configuration is this worker's.
        conf.worker_concurrency = settings.CELERY_IO_CONCURRENCY


@signals.celeryd_init.connect
@signals.beat_init.connect
def _create_runtime_folders(**kwargs) -> None:
    from builder_platform.folders import runtime_folders_create

    runtime_folders_create()


@signals.task_postrun.connect
def _count_task_run(sender=None, state=None, **kwargs) -> None:
    from builder_platform import metrics

    # state is the run's end: SUCCESS, FAILURE, RETRY, REJECTED or IGNORED.
    metrics.celery_task_ran(task=getattr(sender, "name", "unknown"), outcome=str(state or "unknown").lower())


@signals.worker_process_shutdown.connect
def _pool_process_gone(pid=None, **kwargs) -> None:
    from builder_platform import metrics

    metrics.process_exited(pid or os.getpid())
