"""Staff see each worker's liveness in the admin."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from workers.services import worker_heartbeat_touch

pytestmark = pytest.mark.django_db


def test_the_admin_lists_workers_with_when_each_was_last_seen_and_whether_it_counts_as_alive(
    admin_client, settings
):
    settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS = 60
    now = timezone.now()
    worker_heartbeat_touch(hostname="celery@fresh", pid=11, now=now, restarted=True)
    worker_heartbeat_touch(hostname="celery@stale", pid=12, now=now - timedelta(seconds=300), restarted=True)

    response = admin_client.get("/admin/workers/workerheartbeat/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "celery@fresh" in page
    assert "celery@stale" in page
    ages = [int(seconds) for seconds in re.findall(r"\((\d+) s ago\)", page)]
    assert len(ages) == 2
    assert max(ages) >= 300  # the stale one, with its age
    assert page.count('alt="True"') == 1  # only the fresh one is alive
    assert page.count('alt="False"') == 1
