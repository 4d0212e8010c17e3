"""A whole order journey, delivered by a real Celery worker to a receiver that verifies every request
with the standardwebhooks package: each event once, in an order its versions make sense of."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone
from orders_support import order_body, polymarket_market, wait_until
from schema_support import assert_conforms, served_schema

from orders.models import Order
from orders.services import reconcile as reconciliation
from parsec.client import decode_json
from parsec.sim.catalogue import price_bucket, reference_price

BUCKET_SECONDS = 3600


def seed_where(market_id: str, condition) -> int:
    bucket = price_bucket(timezone.now(), BUCKET_SECONDS)
    for seed in range(1, 1000):
        prices = [
            reference_price(exchange="polymarket", market_id=market_id, bucket=b, seed=seed)
            for b in (bucket, bucket + 1)
        ]
        if all(condition(price) for price in prices):
            return seed
    raise AssertionError("no seed found")


@pytest.fixture
def one_fill_sim(parsec_sim, settings):
    """Prices fixed for the hour; a resting order fills in one go."""
    settings.PARSEC_SIM_PRICE_BUCKET_SECONDS = BUCKET_SECONDS
    settings.PARSEC_SIM_FILL_INTERVAL_SECONDS = 0.5
    settings.PARSEC_SIM_FILL_CHUNK_FRACTION = "1"
    return parsec_sim


def test_an_order_journey_reaches_the_partner_signed_once_per_event_in_version_order(
    one_fill_sim, sim_trader, celery_worker, receiver, settings
):
    created = sim_trader.client.post(
        "/api/v1/webhook-endpoints", {"url": receiver.url, "events": ["*"]}, format="json"
    )
    assert created.status_code == 201, created.content
    receiver.secrets = [created.json()["secret"]]

    market = polymarket_market()
    settings.PARSEC_SIM_SEED = seed_where(market, lambda price: price >= Decimal("0.60"))  # rests: open
    response = sim_trader.post_order(
        order_body(market, price=Decimal("0.50"), size=Decimal("10")), exchange="polymarket"
    )
    assert response.status_code == 201, response.content
    order = decode_json(response.content)
    signed = sim_trader.client.post(
        f"/api/v1/orders/{order['id']}/fee-authorization",
        {"signature": sim_trader.sign(order["fee_authorization"]["typed_data"])},
        format="json",
    )
    assert signed.status_code == 202, signed.content
    wait_until(lambda: Order.objects.get(pk=order["id"]).status == "open", timeout=15)
    settings.PARSEC_SIM_SEED = seed_where(market, lambda price: price <= Decimal("0.40"))  # it fills

    def settled() -> bool:
        reconciliation.reconcile_customer_exchange(
            customer_id=sim_trader.customer.id, exchange="polymarket", now=timezone.now()
        )
        return Order.objects.get(pk=order["id"]).settled_at is not None

    wait_until(settled, timeout=20)
    expected = ["order.created", "order.updated", "fee_authorization.signed", "order.fill", "fee.settled"]
    wait_until(lambda: {item.event["type"] for item in receiver.snapshot()} >= set(expected), timeout=15)
    wait_until(
        lambda: Counter(item.event["type"] for item in receiver.snapshot())["order.updated"] >= 3, timeout=15
    )

    received = receiver.snapshot()
    assert all(item.verified_by == [0] for item in received), (
        "a delivery failed standardwebhooks verification"
    )
    assert len({item.webhook_id for item in received}) == len(received), "an event was delivered twice"
    assert all(item.webhook_id == item.event["id"] for item in received)
    counts = Counter(item.event["type"] for item in received)
    assert counts == {
        "order.created": 1,
        "order.updated": 3,  # awaiting_fee_auth -> queued -> open -> filled
        "fee_authorization.signed": 1,
        "order.fill": 1,
        "fee.settled": 1,
    }
    # Whatever order they arrived in, the versions put the order's events in the order they happened.
    order_events = sorted(
        (item.event for item in received if item.event["type"].startswith("order.")),
        key=lambda event: (event["data"]["version"], event["type"] != "order.fill"),
    )
    steps = [
        (event["type"], event["data"].get("previous_status"), event["data"].get("status"))
        for event in order_events
        if event["type"] != "order.fill"
    ]
    assert steps == [
        ("order.created", None, "awaiting_fee_auth"),
        ("order.updated", "awaiting_fee_auth", "queued"),
        ("order.updated", "queued", "open"),
        ("order.updated", "open", "filled"),
    ]
    versions = [event["data"]["version"] for event in order_events if event["type"] != "order.fill"]
    assert versions == sorted(versions)
    assert len(set(versions)) == len(versions)
    # The log holds the same bodies, each as the schema describes it (fills and fees included).
    schema = served_schema(sim_trader.client)
    for item in received:
        path = f"/api/v1/events/{item.webhook_id}"
        answer = sim_trader.client.get(path)
        assert assert_conforms(schema, "GET", path, answer) == item.event
    [fill] = [item.event for item in received if item.event["type"] == "order.fill"]
    assert Decimal(str(fill["data"]["size"])) == Decimal("10")
    assert fill["data"]["order_id"] == order["id"]
    [settlement] = [item.event for item in received if item.event["type"] == "fee.settled"]
    assert settlement["data"]["order_id"] == order["id"]
    assert settlement["data"]["state"] == "settled"
    assert int(settlement["data"]["distributed_amount"]) + int(settlement["data"]["refunded_amount"]) == int(
        settlement["data"]["fee_amount"]
    )
