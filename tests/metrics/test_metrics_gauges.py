"""The database gauges: computed at the scrape from a few queries, with ages against the given clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from factories import make_fee_authorization, make_ledger_entry
from orders_support import place

from builder_platform import metrics
from fees.models import FeeLedgerEntry
from monitoring.collector import DatabaseCollector
from monitoring.figures import figures_now
from orders.models import Order, ReconcileState

pytestmark = pytest.mark.django_db

K = FeeLedgerEntry.Kind


def collected(now) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in DatabaseCollector(now=now).collect()
        for sample in family.samples
    }


def test_orders_per_status_ages_reconcile_lag_and_fee_totals_come_from_three_queries(
    trader, enqueued, django_assert_num_queries
):
    now = timezone.now()
    old, young = place(trader), place(trader)
    Order.objects.filter(pk=old.pk).update(updated_at=now - timedelta(seconds=90))
    Order.objects.filter(pk=young.pk).update(updated_at=now - timedelta(seconds=5))
    Order.objects.filter(pk=place(trader).pk).update(status=Order.Status.UNKNOWN, updated_at=now)
    Order.objects.filter(pk=place(trader).pk).update(status=Order.Status.FILLED)  # final: not counted
    ReconcileState.objects.create(
        customer=trader.customer, exchange="kalshi", enqueued_at=now - timedelta(seconds=40)
    )
    ReconcileState.objects.create(
        customer=trader.customer,
        exchange="polymarket",
        enqueued_at=now - timedelta(seconds=300),
        reconciled_at=now - timedelta(seconds=200),  # ran after it was queued: no lag
    )
    authorization = make_fee_authorization(customer=trader.customer, fee_amount=2**60 + 7)
    for kind, amount in (
        (K.AUTHORIZED, 2**60 + 7),
        (K.DISTRIBUTED_AFFILIATE, 3),
        (K.DISTRIBUTED_TREASURY, 4),
        (K.REFUNDED, 2**60),
    ):
        fill_id = "fill-1" if kind in FeeLedgerEntry.PER_FILL else ""  # per-fill movements name their fill
        make_ledger_entry(
            authorization=authorization, kind=kind, amount=amount, created_at=now, fill_id=fill_id
        )

    with django_assert_num_queries(3):
        found = collected(now)

    assert found[("orders_in_status", (("status", "queued"),))] == 2
    assert found[("orders_in_status", (("status", "unknown"),))] == 1
    assert found[("orders_in_status", (("status", "open"),))] == 0
    assert ("orders_in_status", (("status", "filled"),)) not in found
    assert found[("orders_oldest_age_seconds", (("status", "queued"),))] == 90
    assert found[("orders_oldest_age_seconds", (("status", "submitting"),))] == 0
    assert found[("reconcile_lag_seconds", ())] == 40
    assert found[("fee_base_units", (("kind", "distributed"),))] == 7
    # The dashboard keeps the exact integers a float sample cannot hold.
    figures = figures_now(now=now)
    assert figures["Fees authorized (base units)"] == 2**60 + 7
    assert figures["Fees refunded (base units)"] == 2**60
    assert figures["Orders queued"] == 2


def test_the_partner_rate_limiter_gauge_is_exposed_under_its_name(client, settings):
    settings.METRICS_TOKEN = "t"
    metrics.partner_api_rate_remaining_set(partner_id="partner-gauge-test", remaining=41)
    body = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t").content.decode()
    assert 'partner_api_rate_remaining{partner="partner-gauge-test"} 41.0' in body


def test_queue_depths_are_read_from_the_broker(client, settings):
    from builder_platform.celery import app

    with app.connection_for_write() as connection:
        for queue in app.conf.task_queues:
            queue.bind(connection.default_channel).declare()
            queue.bind(connection.default_channel).purge()
    app.send_task("monitoring.not_a_task_for_this_test", queue="webhooks")
    found = collected(timezone.now())
    assert found[("celery_queue_depth", (("queue", "webhooks"),))] == 1
    assert found[("celery_queue_depth", (("queue", "cancel"),))] == 0
    with app.connection_for_write() as connection:
        for queue in app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
