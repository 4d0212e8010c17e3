"""The platform's Prometheus counters and histograms, and the one function per change that moves them.

Every process (gunicorn workers, Celery's pool, beat) writes its values to files in METRICS_DIR
(prometheus_client's multiprocess mode), and /metrics adds them up, so a scrape sees the whole system
whichever process answers it. Figures read from the database (orders per status, ages, lags, fee
totals, queue depths) are not here: monitoring.collector computes them when /metrics is scraped.

Labels are bounded sets only (a route's pattern, an exchange, a status, a task name), never an id.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.db import transaction

# prometheus_client picks its value storage when it is imported: the directory must be named first.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(settings.METRICS_DIR)

from prometheus_client import (  # after PROMETHEUS_MULTIPROC_DIR is set
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    multiprocess,
    values,
)

# Were prometheus_client imported earlier (before the directory was named), its values would stay in
# this process alone and no scrape would see them: choose the storage again.
values.ValueClass = values.get_value_class()

# Parsec answers in tens to hundreds of milliseconds; a read timeout is 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

http_requests = Counter(
    "http_requests",
    "HTTP requests answered, by the route's URL pattern, method and status.",
    ["route", "method", "status"],
)
http_request_duration = Histogram(
    "http_request_duration_seconds",
    "Time to answer an HTTP request, by the route's URL pattern and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
orders_created = Counter("orders_created", "Orders stored by intake, by exchange.", ["exchange"])
order_transitions = Counter(
    "order_transitions", "Order status changes, by from and to status.", ["from_status", "to_status"]
)
parsec_calls = Counter(
    "parsec_calls",
    "HTTP attempts at Parsec, by endpoint and outcome (ok, rejected, unavailable, in_doubt, rate_limited).",
    ["endpoint", "outcome"],
)
parsec_call_duration = Histogram(
    "parsec_call_duration_seconds",
    "Time of one HTTP attempt at Parsec, by endpoint.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
# The last value any process saw: Parsec's budget is shared, so the newest answer is the truth.
parsec_rate_limit_remaining = Gauge(
    "parsec_rate_limit_remaining",
    "Requests left in Parsec's rate-limit budget (x-ratelimit-<scope>-remaining), by scope (pool, user).",
    ["scope"],
    multiprocess_mode="mostrecent",
)
# Set by the partner API's rate limiter (partner_api_rate_remaining_set); nothing else writes it.
partner_api_rate_remaining = Gauge(
    "partner_api_rate_remaining",
    "Requests a partner may still make in its current rate-limit window, by partner id.",
    ["partner"],
    multiprocess_mode="mostrecent",
)
celery_task_runs = Counter(
    "celery_task_runs", "Celery task runs, by task name and outcome (its final state).", ["task", "outcome"]
)
webhook_deliveries = Counter(
    "webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, retry, failed, busy, not_claimed, endpoint_disabled).",
    ["outcome"],
)


def enabled() -> bool:
    return settings.METRICS_ENABLED


def _after_commit(change) -> None:
    # A change counted inside a transaction that then rolls back never happened: count it at commit
    # (immediately when no transaction is open).
    transaction.on_commit(change)


def order_created(*, exchange: str) -> None:
    if enabled():
        _after_commit(orders_created.labels(exchange=exchange).inc)


def order_transitioned(*, from_status: str, to_status: str) -> None:
    if enabled():
        _after_commit(order_transitions.labels(from_status=from_status, to_status=to_status).inc)


def parsec_call_observed(observation) -> None:
    """The Parsec client's observer (parsec.client.CallObservation); registered by parsec.conf."""
    if not enabled():
        return
    parsec_calls.labels(endpoint=observation.endpoint, outcome=observation.outcome).inc()
    parsec_call_duration.labels(endpoint=observation.endpoint).observe(observation.seconds)
    if observation.rate_limit_pool_remaining is not None:
        parsec_rate_limit_remaining.labels(scope="pool").set(observation.rate_limit_pool_remaining)
    if observation.rate_limit_user_remaining is not None:
        parsec_rate_limit_remaining.labels(scope="user").set(observation.rate_limit_user_remaining)


def http_request_answered(*, route: str, method: str, status: int, seconds: float) -> None:
    http_requests.labels(route=route, method=method, status=str(status)).inc()
    http_request_duration.labels(route=route, method=method).observe(seconds)


def celery_task_ran(*, task: str, outcome: str) -> None:
    if enabled():
        celery_task_runs.labels(task=task, outcome=outcome).inc()


def webhook_delivery_attempted(*, outcome: str) -> None:
    if enabled():
        webhook_deliveries.labels(outcome=outcome).inc()


def partner_api_rate_remaining_set(*, partner_id: str, remaining: int) -> None:
    """For the partner API's rate limiter: what a partner has left after this request."""
    if enabled():
        partner_api_rate_remaining.labels(partner=partner_id).set(remaining)


def process_exited(pid: int) -> None:
    """A gunicorn worker or Celery pool process is gone: its live gauges stop counting."""
    multiprocess.mark_process_dead(pid, str(settings.METRICS_DIR))


def registry() -> CollectorRegistry:
    """A registry that reads every process's files; built per scrape, as prometheus_client advises."""
    collecting = CollectorRegistry()
    multiprocess.MultiProcessCollector(collecting, path=str(settings.METRICS_DIR))
    return collecting
