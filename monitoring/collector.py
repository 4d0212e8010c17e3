"""Gauges read from the database and the broker when /metrics is scraped, by the process that answers.

Three queries and one broker round per scrape, whatever the number of processes: no process keeps
these figures up to date itself (each would count the same rows), and the database is their record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone
from kombu.exceptions import ChannelError, OperationalError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fees.models import FeeLedgerEntry
from orders.models import FINAL_STATUSES, Order, ReconcileState

logger = logging.getLogger(__name__)

S = Order.Status
NON_FINAL_STATUSES = [status for status in S.values if status not in FINAL_STATUSES]
# The statuses whose oldest order says something is stuck: not sent, being sent, or in doubt.
AGED_STATUSES = (S.QUEUED, S.SUBMITTING, S.UNKNOWN)
K = FeeLedgerEntry.Kind
FEE_KINDS = {
    K.AUTHORIZED: "authorized",
    K.DISTRIBUTED_AFFILIATE: "distributed",
    K.DISTRIBUTED_TREASURY: "distributed",
    K.REFUNDED: "refunded",
}


def orders_by_status() -> dict[str, tuple[int, datetime | None]]:
    """(count, oldest updated_at) per non-final status; one query on the status index."""
    rows = (
        Order.objects.filter(status__in=NON_FINAL_STATUSES)
        .values_list("status")
        .annotate(count=Count("id"), oldest=Min("updated_at"))
        .order_by()
    )
    found = {status: (count, oldest) for status, count, oldest in rows}
    return {status: found.get(status, (0, None)) for status in NON_FINAL_STATUSES}


def reconcile_oldest_pending() -> datetime | None:
    """When the longest-waiting (customer, exchange) reconciliation was queued without having run since."""
    return ReconcileState.objects.filter(
        Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=F("enqueued_at")), enqueued_at__isnull=False
    ).aggregate(oldest=Min("enqueued_at"))["oldest"]


def fee_totals() -> dict[str, int]:
    """USDC base units authorized, distributed (affiliate + treasury) and refunded, ever."""
    totals = dict.fromkeys(("authorized", "distributed", "refunded"), 0)
    rows = FeeLedgerEntry.objects.filter(kind__in=FEE_KINDS).values_list("kind").annotate(total=Sum("amount"))
    for kind, total in rows.order_by():
        totals[FEE_KINDS[kind]] += int(total or 0)
    return totals


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per Celery queue, or None when the broker cannot be asked right now."""
    try:
        with current_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            channel = connection.default_channel
            return {name: _depth(channel, name) for name in settings.TASK_QUEUE_NAMES}
    except (OperationalError, OSError) as error:  # a broker outage must not fail the whole scrape
        logger.warning("metrics: queue depths unavailable (%s)", type(error).__name__)
        return None


def _depth(channel, name: str) -> int:
    try:
        return int(channel.queue_declare(queue=name, passive=True).message_count)
    except ChannelError:
        return 0  # no worker has declared it yet (Redis): nothing can be waiting in it


def _age(oldest: datetime | None, now: datetime) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


class DatabaseCollector(Collector):
    """prometheus_client calls collect() on every scrape."""

    def __init__(self, *, now: datetime | None = None) -> None:
        self._now = now  # tests fix the clock
        # The last scrape's fee totals as exact integers (a Prometheus sample is a float).
        self.fee_totals: dict[str, int] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._now or timezone.now()
        by_status = orders_by_status()
        orders = GaugeMetricFamily("orders_in_status", "Orders in each non-final status.", labels=["status"])
        ages = GaugeMetricFamily(
            "orders_oldest_age_seconds",
            "Seconds since the oldest order in the status last changed (0 when there is none).",
            labels=["status"],
        )
        for status, (count, oldest) in by_status.items():
            orders.add_metric([status], count)
            if status in AGED_STATUSES:
                ages.add_metric([status], _age(oldest, now))
        yield orders
        yield ages
        yield GaugeMetricFamily(
            "reconcile_lag_seconds",
            "Seconds the oldest queued reconciliation of a (customer, exchange) has waited to run.",
            value=_age(reconcile_oldest_pending(), now),
        )
        fees = GaugeMetricFamily(
            "fee_base_units",
            "Fees ever authorized, distributed and refunded, in USDC base units.",
            labels=["kind"],
        )
        self.fee_totals = fee_totals()
        for kind, total in self.fee_totals.items():
            fees.add_metric([kind], total)
        yield fees
        depths = queue_depths()
        if depths is not None:
            queues = GaugeMetricFamily(
                "celery_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
            )
            for name, depth in depths.items():
                queues.add_metric([name], depth)
            yield queues
