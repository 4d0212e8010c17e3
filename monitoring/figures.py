"""The figures the dashboard shows and beat samples: /metrics's series, added up into named numbers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client.metrics_core import Metric

from builder_platform import metrics
from monitoring.collector import DatabaseCollector

# Counters: the dashboard charts their increase per minute. (name, metric sample, label filter).
COUNTERS: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("HTTP requests", "http_requests_total", {}),
    ("HTTP 5xx answers", "http_requests_total", {"status": lambda value: value.startswith("5")}),
    ("HTTP seconds (sum)", "http_request_duration_seconds_sum", {}),
    ("Orders created", "orders_created_total", {}),
    ("Order transitions", "order_transitions_total", {}),
    ("Parsec calls", "parsec_calls_total", {}),
    ("Parsec calls not ok", "parsec_calls_total", {"outcome": lambda value: value != "ok"}),
    ("Parsec 429 answers", "parsec_calls_total", {"outcome": "rate_limited"}),
    ("Parsec seconds (sum)", "parsec_call_duration_seconds_sum", {}),
    ("Celery task runs", "celery_task_runs_total", {}),
    ("Celery task failures", "celery_task_runs_total", {"outcome": "failure"}),
    ("Webhooks delivered", "webhook_deliveries_total", {"outcome": "delivered"}),
    (
        "Webhook attempts failed",
        "webhook_deliveries_total",
        {"outcome": lambda value: value in ("retry", "failed")},
    ),
)
COUNTER_NAMES = tuple(name for name, _, _ in COUNTERS)
FEE_FIGURE = "Fees {} (base units)"
# Per label value, one figure each: "Orders queued", "Oldest queued (s)", "Queue submission", ...
GAUGES: tuple[tuple[str, str, str], ...] = (
    ("Orders {}", "orders_in_status", "status"),
    ("Oldest {} (s)", "orders_oldest_age_seconds", "status"),
    (FEE_FIGURE, "fee_base_units", "kind"),
    ("Queue {}", "celery_queue_depth", "queue"),
    ("Parsec {} budget left", "parsec_rate_limit_remaining", "scope"),
)
SINGLE_GAUGES = (("Reconcile lag (s)", "reconcile_lag_seconds"),)


def _matches(labels: dict[str, str], wanted: dict[str, object]) -> bool:
    for name, condition in wanted.items():
        value = labels.get(name, "")
        if callable(condition) and not condition(value):
            return False
        if not callable(condition) and value != condition:
            return False
    return True


def figures_from(families: Iterable[Metric]) -> dict[str, float]:
    samples = [sample for family in families for sample in family.samples]
    figures: dict[str, float] = {}
    for name, sample_name, wanted in COUNTERS:
        figures[name] = sum(s.value for s in samples if s.name == sample_name and _matches(s.labels, wanted))
    for template, sample_name, label in GAUGES:
        for sample in samples:
            if sample.name == sample_name:
                figures[template.format(sample.labels[label].replace("_", " "))] = sample.value
    for name, sample_name in SINGLE_GAUGES:
        figures[name] = next((s.value for s in samples if s.name == sample_name), 0.0)
    # Whole numbers stay ints in JSON (fee base units must be exact; a float would round past 2**53).
    return {
        name: int(value) if float(value).is_integer() else round(value, 3) for name, value in figures.items()
    }


def figures_now(*, now: datetime | None = None) -> dict[str, float]:
    collector = DatabaseCollector(now=now)
    figures = figures_from([*metrics.registry().collect(), *collector.collect()])
    for kind, total in collector.fee_totals.items():
        figures[FEE_FIGURE.format(kind)] = total  # exact, not the float of the Prometheus sample
    return figures
