"""The liveness and readiness probes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from builder_platform import health
from workers.services import worker_heartbeat_touch


@pytest.fixture
def live_worker(db) -> None:
    worker_heartbeat_touch(hostname="celery@test", pid=1, now=timezone.now(), restarted=True)


def test_healthz_answers_ok_without_touching_anything(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_ready_when_database_broker_and_a_worker_answer(client, live_worker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {
        "database": "ok",
        "broker": "ok",
        "workers": "ok",
        "submission": "ok",
    }


@pytest.mark.django_db
def test_readyz_is_unavailable_while_no_worker_was_ever_seen(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["workers"] == "no worker has been seen yet"
    assert body["code"] == "service_unavailable"


def test_readyz_says_how_long_no_worker_has_been_seen(client, settings, live_worker):
    settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS = 60
    worker_heartbeat_touch(hostname="celery@test", pid=1, now=timezone.now() - timedelta(seconds=125))

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["workers"].startswith("no worker has been seen for 12")  # 125 s, and counting
    assert "no worker has been seen for" in body["error"]


def _unreachable_database():
    settings_dict = dict(connections["default"].settings_dict)
    if settings_dict["ENGINE"].endswith("sqlite3"):
        settings_dict["NAME"] = "/nonexistent-folder/for-readiness/db.sqlite3"
    else:
        settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", "1"  # nothing listens on port 1
    return connections["default"].__class__(settings_dict, alias="unreachable")


def test_readyz_names_the_database_when_it_is_down(client, monkeypatch, live_worker):
    monkeypatch.setattr(health, "connection", _unreachable_database())
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["checks"]["database"] == "database unreachable"
    assert body["checks"]["broker"] == "ok"
    assert "database unreachable" in body["error"]


def test_readyz_names_the_broker_when_it_is_down(client, settings, live_worker):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {
        "database": "ok",
        "broker": "broker unreachable",
        "workers": "ok",
        "submission": "ok",
    }


def _queued_order(*, due_seconds_ago: float, price: str = "0.5"):
    from factories import make_customer, make_partner

    from orders.models import Order

    partner = make_partner()
    customer = make_customer(partner=partner)
    due = timezone.now() - timedelta(seconds=due_seconds_ago)
    return Order.objects.create(
        partner=partner,
        customer=customer,
        exchange="kalshi",
        market_id="KXTEST",
        outcome="Yes",
        side="buy",
        price=Decimal(price),
        size=Decimal(10),
        status=Order.Status.QUEUED,
        next_attempt_at=due,
        created_at=due,
        updated_at=due,
    )


def test_readyz_says_when_due_orders_are_not_being_sent(client, settings, live_worker):
    settings.ORDER_SUBMISSION_STALL_SECONDS = 120
    _queued_order(due_seconds_ago=300)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["workers"] == "ok"
    assert body["checks"]["submission"].startswith(
        "orders due to be sent have waited 30"
    )  # 300 s, and counting
    assert "nothing sent" in body["error"]


def test_readyz_ignores_orders_not_yet_due_or_recently_due(client, settings, live_worker):
    settings.ORDER_SUBMISSION_STALL_SECONDS = 120
    _queued_order(due_seconds_ago=-600)  # backing off: its next attempt is in ten minutes
    _queued_order(due_seconds_ago=30, price="0.4")

    response = client.get("/readyz")

    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["submission"] == "ok"
