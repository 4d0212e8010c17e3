"""The liveness and readiness probes."""

import pytest
from django.db import connections

from builder_platform import health


def test_healthz_answers_ok_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_ready_when_database_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def _unreachable_database():
    settings_dict = dict(connections["default"].settings_dict)
    if settings_dict["ENGINE"].endswith("sqlite3"):
        settings_dict["NAME"] = "/nonexistent-folder/for-readiness/db.sqlite3"
    else:
        settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", "1"  # nothing listens on port 1
    return connections["default"].__class__(settings_dict, alias="unreachable")


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_is_down(client, monkeypatch):
    monkeypatch.setattr(health, "connection", _unreachable_database())
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["checks"]["database"] == "database unreachable"
    assert body["checks"]["broker"] == "ok"
    assert "database unreachable" in body["error"]


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "broker unreachable"}
