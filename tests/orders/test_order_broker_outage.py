"""The broker goes away under load and comes back: the worker rides it out, each order reaches Parsec once.

A real worker process (the Procfile's command) consumes through a broker the test can cut: in CI's mode
a TCP proxy in front of Redis, started and stopped in this process on 127.0.0.1; in the embedded mode
the filesystem broker's folder, renamed away and back. Orders keep arriving during the outage; the outbox
sweep (beat's job, run here by the test) re-enqueues what could not be queued. Afterwards each order is
at the simulator exactly once and the worker is still the same process.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.utils import timezone
from orders_support import order_body, wait_until
from tcp_proxy import TcpProxy
from worker_process import WorkerProcess, database_url_of_this_test

from orders.models import Order
from orders.services import sweep
from parsec.client import decode_json
from parsec.sim.models import SimOrder

S = Order.Status
ORDERS_PER_PHASE = 8  # before, during and after the outage


class FolderCut:
    """The filesystem broker's folder made unreachable (renamed away) and reachable again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.away = folder.with_name(folder.name + ".away")
        self.worker_env = {"CELERY_BROKER_URL": "filesystem://", "CELERY_FILESYSTEM_DIR": str(folder)}

    def cut(self) -> None:
        os.rename(self.folder, self.away)

    def restore(self) -> None:
        os.rename(self.away, self.folder)

    def close(self) -> None:
        if self.away.exists():
            self.restore()


class ProxyCut:
    """Redis behind a TCP proxy: the worker's only way to the broker, cut and restored by the test."""

    def __init__(self, broker_url: str) -> None:
        parts = urlsplit(broker_url)
        self.proxy = TcpProxy(target_host=parts.hostname or "127.0.0.1", target_port=parts.port or 6379)
        port = self.proxy.start()
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
        self.worker_env = {"CELERY_BROKER_URL": urlunsplit(parts._replace(netloc=netloc))}

    def cut(self) -> None:
        self.proxy.cut()

    def restore(self) -> None:
        self.proxy.restore()

    def close(self) -> None:
        self.proxy.stop()


@pytest.fixture
def broker_cut():
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        cut = FolderCut(Path(settings.BROKER_FILESYSTEM_DIR))
    else:
        cut = ProxyCut(settings.CELERY_BROKER_URL)
    yield cut
    cut.close()


@pytest.fixture
def outage_worker(sim_trader, broker_cut, settings, tmp_path):
    settings.ORDER_OUTBOX_STALE_SECONDS = 1
    worker = WorkerProcess(
        process="io",  # the thread-pool worker of the submission queue, as `make run` starts it
        log_path=tmp_path / "worker.log",
        env={
            "DATABASE_URL": database_url_of_this_test(),
            "VAR_DIR": str(tmp_path / "var"),
            "PARSEC_BASE_URL": settings.PARSEC_BASE_URL,
            "PARSEC_API_KEY": settings.PARSEC_API_KEY,
            "PARSEC_CONNECT_TIMEOUT": "2",
            "PARSEC_READ_TIMEOUT": "5",
            "WORKER_HEARTBEAT_INTERVAL_SECONDS": "0.5",
            **broker_cut.worker_env,
        },
    ).start()
    worker.wait_ready()
    yield worker
    worker.stop()


def place(trader) -> str:
    response = trader.post_order(order_body())
    assert response.status_code == 201, response.content  # intake goes on while the broker is away
    return decode_json(response.content)["id"]


def test_every_order_reaches_parsec_exactly_once_after_a_broker_outage_and_the_worker_survives(
    sim_trader, broker_cut, outage_worker
):
    worker_pid = outage_worker.pid
    order_ids = [place(sim_trader) for _ in range(ORDERS_PER_PHASE)]

    broker_cut.cut()
    order_ids += [place(sim_trader) for _ in range(ORDERS_PER_PHASE)]
    wait_until(lambda: "Connection to broker lost" in outage_worker.log(), timeout=30)
    broker_cut.restore()
    order_ids += [place(sim_trader) for _ in range(ORDERS_PER_PHASE)]

    def all_sent() -> bool:
        sweep.orders_outbox_sweep(now=timezone.now())  # beat's job: what the outage left unqueued
        return not Order.objects.filter(id__in=order_ids, status__in=[S.QUEUED, S.SUBMITTING]).exists()

    wait_until(all_sent, timeout=180, interval=0.5)

    assert outage_worker.alive(), outage_worker.log()[-3000:]
    assert outage_worker.pid == worker_pid
    assert "Unrecoverable error" not in outage_worker.log()
    orders = list(Order.objects.filter(id__in=order_ids))
    placed = {S.PENDING, S.OPEN, S.PARTIALLY_FILLED, S.FILLED}
    assert {order.status for order in orders} <= placed, {(o.status, o.last_error_code) for o in orders}
    parsec_ids = [order.parsec_order_id for order in orders]
    assert len(set(parsec_ids)) == len(order_ids)
    assert SimOrder.objects.count() == len(order_ids)  # nothing sent twice
    assert set(SimOrder.objects.values_list("id", flat=True)) == set(parsec_ids)
