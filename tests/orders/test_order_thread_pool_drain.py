"""The `io` worker of `make run` (a thread pool) sends a backlog of queued orders several at once, each once.

Orders are queued while no worker runs; then the Procfile's `io` process starts with 8 threads against
a simulator that takes 0.2 s per call. The orders must be in flight together (more than one
`submitting` at a moment: one thread per order, not one order per process), and every one must reach
the simulator exactly once, each claimed by the conditional update that makes a second send impossible.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from orders_support import order_body, wait_until
from worker_process import WorkerProcess, database_url_of_this_test

from builder_platform.celery import app as celery_app
from orders.models import Order
from parsec.client import decode_json
from parsec.sim.models import SimOrder

S = Order.Status
BACKLOG = 24


@pytest.fixture
def io_worker(sim_trader, settings, tmp_path):
    with celery_app.connection_for_write() as connection:
        for queue in celery_app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
    worker = WorkerProcess(
        process="io",
        log_path=tmp_path / "io.log",
        env={
            "DATABASE_URL": database_url_of_this_test(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CELERY_FILESYSTEM_DIR": str(settings.BROKER_FILESYSTEM_DIR),
            "VAR_DIR": str(tmp_path / "var"),
            "PARSEC_BASE_URL": settings.PARSEC_BASE_URL,
            "PARSEC_API_KEY": settings.PARSEC_API_KEY,
            "CELERY_IO_CONCURRENCY": "8",
        },
    )
    yield worker
    worker.stop()


def test_the_io_worker_sends_a_backlog_several_orders_at_a_time_and_each_exactly_once(sim_trader, io_worker):
    order_ids = []
    for index in range(BACKLOG):
        # Distinct sizes: identical intents of one customer are sent one after another, by design.
        response = sim_trader.post_order(order_body(size=Decimal(10 + index)))
        assert response.status_code == 201, response.content
        order_ids.append(decode_json(response.content)["id"])
    assert Order.objects.filter(id__in=order_ids, status=S.QUEUED).count() == BACKLOG

    io_worker.start()
    in_flight = []

    def sending_together() -> bool:
        in_flight.append(Order.objects.filter(id__in=order_ids, status=S.SUBMITTING).count())
        return in_flight[-1] >= 2

    wait_until(sending_together, timeout=60, interval=0.02)
    wait_until(
        lambda: not Order.objects.filter(id__in=order_ids, status__in=[S.QUEUED, S.SUBMITTING]).exists(),
        timeout=120,
        interval=0.2,
    )

    assert "concurrency: 8 (thread" in io_worker.log()  # CELERY_IO_CONCURRENCY sized the pool
    orders = list(Order.objects.filter(id__in=order_ids))
    placed = {S.PENDING, S.OPEN, S.PARTIALLY_FILLED, S.FILLED}
    assert {order.status for order in orders} <= placed, {
        (order.status, order.last_error_code, order.last_error_message) for order in orders
    }
    assert SimOrder.objects.count() == BACKLOG  # nothing sent twice
    assert set(SimOrder.objects.values_list("id", flat=True)) == {order.parsec_order_id for order in orders}
