"""The request id of the request that queued a task, its partner, the task id and the order reach the
worker's log lines for that task (a real worker, its lines formatted as JSON and parsed)."""

from __future__ import annotations

import json
import logging

import pytest
from orders_support import order_body
from polling import wait_until

from builder_platform.logs import JsonFormatter, LogContextFilter
from orders.models import Order

REQUEST_ID = "abc-123.partner-trace_42"


class Lines(logging.Handler):
    """Formatted lines of one logger, as the console handler would write them (context filter included)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(formatter)
        self.addFilter(LogContextFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines():
    """JSON lines of orders.tasks (the submit task's own line) wherever they are logged: the worker too."""
    handler = Lines(JsonFormatter())
    logger = logging.getLogger("orders.tasks")
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(previous)


def test_the_request_id_and_partner_reach_the_log_lines_of_the_task_the_request_queued(
    sim_trader, celery_worker, json_lines
):
    response = sim_trader.post_order(order_body(), exchange="kalshi", HTTP_X_REQUEST_ID=REQUEST_ID)
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    wait_until(lambda: Order.objects.get(pk=order_id).status != Order.Status.QUEUED, timeout=15)

    entries = wait_until(
        lambda: [entry for entry in map(json.loads, json_lines) if entry.get("order_id") == order_id],
        timeout=15,
    )
    entry = entries[0]
    assert entry["message"].startswith("order submit attempt:")
    assert entry["request_id"] == REQUEST_ID
    assert entry["partner_id"] == str(sim_trader.partner.pk)
    assert len(entry["task_id"]) == 36  # the Celery task id (a UUID) of this run
