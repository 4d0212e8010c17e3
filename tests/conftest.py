"""Fixtures shared by the whole suite."""

import pytest
from rest_framework.test import APIClient

from builder_platform.celery import app as celery_app


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker consuming every queue over the configured broker, in this process.

    Tasks read committed rows, hence `transactional_db`. Queues are purged first so messages left by
    an earlier test (whose rows are gone) do not leak into this one.
    """
    from celery.contrib.testing.worker import start_worker

    with celery_app.connection_for_write() as connection:
        for queue in celery_app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=10,
    ) as worker:
        yield worker
