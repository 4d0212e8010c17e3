"""A real worker process, started as the Procfile starts it, stops when told, even after losing its pool."""

from __future__ import annotations

import os
import signal

import pytest
from django.conf import settings
from polling import wait_until
from worker_process import WorkerProcess, database_url_of_this_test

from workers.models import WorkerHeartbeat


@pytest.fixture
def worker_env(transactional_db, tmp_path) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url_of_this_test(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        # A broker folder of its own in the embedded mode: it must not take other tests' messages.
        "CELERY_FILESYSTEM_DIR": str(tmp_path / "broker"),
        "VAR_DIR": str(tmp_path / "var"),
        "WORKER_HEARTBEAT_INTERVAL_SECONDS": "0.5",
    }


@pytest.fixture
def worker(worker_env, tmp_path):
    process = WorkerProcess(log_path=tmp_path / "worker.log", env=worker_env).start()
    yield process
    process.stop()


def test_a_worker_exits_cleanly_on_sigterm_and_says_it_is_gone(worker):
    worker.wait_ready()
    wait_until(lambda: WorkerHeartbeat.objects.filter(pid=worker.pid).exists(), timeout=30)

    assert worker.stop() == 0, worker.log()[-3000:]
    assert "Warm shutdown" in worker.log()
    assert not WorkerHeartbeat.objects.filter(pid=worker.pid).exists()  # readiness knows at once


def test_a_worker_whose_pool_children_were_killed_still_exits_on_sigterm(worker):
    worker.wait_ready()
    children = worker.children()
    assert len(children) == 2  # --concurrency 2, prefork
    for child in children:
        os.kill(child, signal.SIGKILL)
    wait_until(lambda: worker.log().count("exited with 'signal 9 (SIGKILL)'") == 2, timeout=30)

    assert worker.stop() == 0, worker.log()[-3000:]


def test_the_supervisor_of_make_run_starts_a_worker_again_when_it_dies(worker_env, tmp_path):
    supervised = WorkerProcess(log_path=tmp_path / "supervised.log", env=worker_env, supervised=True).start()
    try:
        supervised.wait_ready()
        [first_worker] = supervised.children()
        os.kill(first_worker, signal.SIGKILL)

        supervised.wait_ready(times=2)
        [second_worker] = supervised.children()
        assert second_worker != first_worker
        assert "exited with code -9" in supervised.log()

        assert supervised.stop() == 0, supervised.log()[-3000:]
        assert not os.path.exists(f"/proc/{second_worker}")  # it was waited for, not left behind
    finally:
        supervised.stop()
