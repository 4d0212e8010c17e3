"""Who may read /metrics: the bearer token, or loopback only when no token is set and that is allowed."""

from __future__ import annotations

import pytest
from metrics_support import TOKEN

from parsec.client import decode_json

pytestmark = pytest.mark.django_db


def test_with_a_token_set_only_its_bearer_reads_the_metrics(client, settings):
    settings.METRICS_TOKEN = TOKEN
    missing = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert missing.status_code == wrong.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert decode_json(wrong.content)["code"] == "not_authenticated"
    assert right.status_code == 200
    assert b"# TYPE orders_in_status gauge" in right.content


def test_without_a_token_only_loopback_reads_them_and_only_when_allowed(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_LOOPBACK_WITHOUT_TOKEN = True
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    assert client.get("/metrics", REMOTE_ADDR="10.0.0.7").status_code == 403
    # Through a proxy on this machine: loopback in REMOTE_ADDR, the world in X-Forwarded-For.
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403

    settings.METRICS_LOOPBACK_WITHOUT_TOKEN = False
    refused = client.get("/metrics")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/json"
    assert decode_json(refused.content)["code"] == "metrics_token_not_set"


def test_errors_under_metrics_are_json_not_html(client, settings):
    settings.METRICS_TOKEN = TOKEN
    answer = client.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 405
    assert answer["Content-Type"] == "application/json"
    assert decode_json(answer.content)["code"] == "method_not_allowed"


def test_switched_off_there_is_no_metrics_endpoint(client, settings):
    settings.METRICS_ENABLED = False
    settings.METRICS_TOKEN = TOKEN
    answer = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
