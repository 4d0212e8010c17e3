"""/metrics moves as orders move: a scrape before and after an order goes through the real pipe."""

from __future__ import annotations

import pytest
from metrics_support import TOKEN, scrape, value
from orders_support import order_body
from polling import wait_until

from orders.models import Order
from parsec.client import decode_json

S = Order.Status


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def test_an_order_sent_through_the_worker_moves_every_counter_by_exactly_its_steps(
    parsec_sim, sim_trader, celery_worker, metrics_token, client
):
    before = scrape(client)
    assert value(before, "orders_in_status", status="queued") == 0

    response = sim_trader.post_order(order_body(), exchange="kalshi")
    assert response.status_code == 201, response.content
    order_id = decode_json(response.content)["id"]
    order = wait_until(
        lambda: (found := Order.objects.get(pk=order_id)).status not in (S.QUEUED, S.SUBMITTING) and found,
        timeout=15,
    )
    assert order.status in (S.OPEN, S.PENDING, S.PARTIALLY_FILLED, S.FILLED), order.status
    # The worker counts its run after the task returned: wait for that, not for the order alone.
    after = wait_until(
        lambda: (
            (scraped := scrape(client))
            and value(scraped, "celery_task_runs_total", task="orders.submit", outcome="success")
            > value(before, "celery_task_runs_total", task="orders.submit", outcome="success")
            and scraped
        ),
        timeout=10,
    )

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("orders_created_total", exchange="kalshi") == 1
    assert moved("orders_created_total", exchange="polymarket") == 0
    assert moved("order_transitions_total", from_status="queued", to_status="submitting") == 1
    assert moved("order_transitions_total", from_status="submitting", to_status=order.status) == 1
    assert moved("parsec_calls_total", endpoint="POST orders", outcome="ok") == 1
    assert moved("parsec_call_duration_seconds_count", endpoint="POST orders") == 1
    assert moved("celery_task_runs_total", task="orders.submit", outcome="success") == 1
    assert moved("http_requests_total", route="api/v1/orders", method="POST", status="201") == 1
    assert moved("http_request_duration_seconds_count", route="api/v1/orders", method="POST") == 1
    # The gauges read the database at the scrape: the order now counts in its live status.
    assert (
        value(after, "orders_in_status", status=order.status)
        == value(before, "orders_in_status", status=order.status) + 1
    )
    assert value(after, "orders_in_status", status="queued") == 0
