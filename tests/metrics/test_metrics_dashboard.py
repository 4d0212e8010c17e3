"""The admin's metrics dashboard: staff only, the figures now and the last hour's samples as SVG."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from monitoring.models import MetricSample
from monitoring.services import metric_sample_record

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/monitoring/metricsample/"


def test_staff_see_the_figures_and_the_last_hour_charted(client, settings):
    staff = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    client.force_login(staff)
    now = timezone.now().replace(second=0, microsecond=0)
    MetricSample.objects.create(taken_at=now - timedelta(minutes=2), figures={"Orders created": 4})
    MetricSample.objects.create(taken_at=now - timedelta(minutes=1), figures={"Orders created": 10})

    index = client.get("/admin/")
    page = client.get(DASHBOARD)

    assert DASHBOARD in index.content.decode()
    assert page.status_code == 200
    text = page.content.decode()
    assert "Metrics dashboard" in text
    for figure in ("Orders created", "Reconcile lag (s)", "Queue submission"):
        assert figure in text
    assert "+6" in text  # the last minute's increase of the counter
    assert "<svg" in text
    assert "<polyline" in text


def test_someone_not_staff_is_sent_to_sign_in(client):
    user = get_user_model().objects.create_user("partner-person", "p@example.com", "pw")
    client.force_login(user)
    answer = client.get(DASHBOARD)
    assert answer.status_code == 302
    assert "/admin/login/" in answer["Location"]


def test_a_sample_is_kept_a_minute_at_a_time_and_old_ones_are_pruned(settings):
    settings.METRICS_SAMPLE_RETENTION_HOURS = 24
    now = timezone.now()
    MetricSample.objects.create(taken_at=now - timedelta(hours=25), figures={})
    first = metric_sample_record(now=now.replace(second=5))
    again = metric_sample_record(now=now.replace(second=50))
    assert first.pk == again.pk  # one row per minute
    assert list(MetricSample.objects.values_list("taken_at", flat=True)) == [
        now.replace(second=0, microsecond=0)
    ]
    assert "Orders queued" in again.figures
