"""Counts from several processes add up in one scrape (prometheus_client's multiprocess mode)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from metrics_support import TOKEN, scrape, value

from builder_platform import metrics

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
COUNT_IN_ANOTHER_PROCESS = """
import django
django.setup()
from builder_platform import metrics
for _ in range(3):
    metrics.celery_task_ran(task="tests.another_process", outcome="success")
"""


def test_a_second_process_counts_into_the_same_series(client, settings):
    settings.METRICS_TOKEN = TOKEN
    before = value(scrape(client), "celery_task_runs_total", task="tests.another_process", outcome="success")
    metrics.celery_task_ran(task="tests.another_process", outcome="success")
    metrics.celery_task_ran(task="tests.another_process", outcome="success")
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
        "PROMETHEUS_MULTIPROC_DIR": str(settings.METRICS_DIR),
    }
    subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", COUNT_IN_ANOTHER_PROCESS], cwd=ROOT, env=environment, check=True, timeout=60
    )
    after = value(scrape(client), "celery_task_runs_total", task="tests.another_process", outcome="success")
    assert after - before == 5


def test_the_metrics_directory_is_this_runs_own(settings):
    # The suite empties it at start, so no earlier run's counts are read (tests/conftest.py).
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(settings.METRICS_DIR)
    assert Path(settings.METRICS_DIR).is_dir()
