"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from kombu import Connection

from workers.selectors import worker_last_seen_at

logger = logging.getLogger(__name__)


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ready() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the kind is logged
        logger.warning("readiness: database unreachable (%s)", type(exc).__name__)
        return "database unreachable"
    return None


def _broker_ready() -> str | None:
    try:
        broker = Connection(
            settings.CELERY_BROKER_URL, transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS
        )
        with broker as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the kind is logged
        logger.warning("readiness: broker unreachable (%s)", type(exc).__name__)
        return "broker unreachable"
    return None


def _workers_ready() -> str | None:
    """Whether a worker consumed recently: without one, orders are accepted and never sent."""
    try:
        last_seen = worker_last_seen_at()
    except DatabaseError:
        return "worker liveness unknown (database unreachable)"
    if last_seen is None:
        return "no worker has been seen yet"
    age = (timezone.now() - last_seen).total_seconds()
    if age > settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS:
        return f"no worker has been seen for {int(age)} s"
    return None


def _submission_ready(*, workers_problem: str | None) -> str | None:
    """Whether orders due to be sent are being sent.

    A worker can be seen (its consumer touches the heartbeat) while its pool runs nothing, and beat can
    die while workers idle: either way due orders pile up. The oldest order queued and due for longer
    than ORDER_SUBMISSION_STALL_SECONDS says so. Orders backing off (a refusal, Parsec unavailable) are
    not due until their next attempt, so a venue outage does not count here.
    """
    if workers_problem:
        return None  # the workers check already says why nothing is sent
    from orders.models import Order  # wiring reads the orders table; orders never import this module

    stall = settings.ORDER_SUBMISSION_STALL_SECONDS
    now = timezone.now()
    try:
        oldest = (
            Order.objects.filter(
                status=Order.Status.QUEUED, next_attempt_at__lte=now - timedelta(seconds=stall)
            )
            .order_by("next_attempt_at")
            .values_list("next_attempt_at", flat=True)
            .first()
        )
    except DatabaseError:
        return "submission unknown (database unreachable)"
    if oldest is None:
        return None
    waited = int((now - oldest).total_seconds())
    return f"orders due to be sent have waited {waited} s (workers seen, nothing sent)"


def readyz(request: HttpRequest) -> JsonResponse:
    workers = _workers_ready()
    checks = {
        "database": _database_ready(),
        "broker": _broker_ready(),
        "workers": workers,
        "submission": _submission_ready(workers_problem=workers),
    }
    failing = [name for name, problem in checks.items() if problem]
    body = {
        "status": "ready" if not failing else "unavailable",
        "checks": {k: v or "ok" for k, v in checks.items()},
    }
    if failing:
        body["error"] = f"Not ready: {', '.join(checks[name] for name in failing)}."
        body["code"] = "service_unavailable"
        return JsonResponse(body, status=503)
    return JsonResponse(body)
