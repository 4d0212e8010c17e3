"""End to end: the partner API, a real Celery worker and the simulator over HTTP, through every state."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from orders_support import KALSHI_MARKET, ledger_totals, order_body, polymarket_market, wait_until

from orders.models import Fill, Order, OrderEvent
from orders.services import reconcile as reconciliation
from parsec.client import decode_json
from parsec.sim.catalogue import price_bucket, reference_price
from parsec.sim.models import SimOrder

S = Order.Status
BUCKET_SECONDS = 3600


@pytest.fixture
def fast_sim(parsec_sim, settings):
    """Prices fixed for the hour and a resting order filling in two halves, a second apart."""
    settings.PARSEC_SIM_PRICE_BUCKET_SECONDS = BUCKET_SECONDS
    settings.PARSEC_SIM_FILL_INTERVAL_SECONDS = 1.0
    settings.PARSEC_SIM_FILL_CHUNK_FRACTION = "0.5"
    return parsec_sim


def seed_where(market_id: str, condition) -> int:
    """A simulator seed whose price for this market meets `condition` now and in the next hour."""
    bucket = price_bucket(timezone.now(), BUCKET_SECONDS)
    for seed in range(1, 1000):
        prices = [
            reference_price(exchange="polymarket", market_id=market_id, bucket=b, seed=seed)
            for b in (bucket, bucket + 1)
        ]
        if all(condition(price) for price in prices):
            return seed
    raise AssertionError("no seed found")


def reconcile(trader, exchange: str) -> None:
    reconciliation.reconcile_customer_exchange(
        customer_id=trader.customer.id, exchange=exchange, now=timezone.now()
    )


def status_of(order_id: str) -> str:
    return Order.objects.get(pk=order_id).status


def place_and_sign(trader, body: dict) -> str:
    response = trader.post_order(body, exchange="polymarket")
    assert response.status_code == 201, response.content
    created = decode_json(response.content)
    assert created["status"] == "awaiting_fee_auth"
    signed = trader.client.post(
        f"/api/v1/orders/{created['id']}/fee-authorization",
        {"signature": trader.sign(created["fee_authorization"]["typed_data"])},
        format="json",
    )
    assert signed.status_code == 202, signed.content
    return created["id"]


def reconcile_until(trader, exchange: str, predicate, timeout: float = 15.0):
    def step():
        reconcile(trader, exchange)
        return predicate()

    return wait_until(step, timeout=timeout, interval=0.05)


def test_a_polymarket_order_with_a_fee_goes_through_every_state_and_the_ledger_adds_up(
    fast_sim, sim_trader, celery_worker, settings
):
    market = polymarket_market()
    settings.PARSEC_SIM_SEED = seed_where(market, lambda price: price >= Decimal("0.60"))  # rests: open
    order_id = place_and_sign(sim_trader, order_body(market, price=Decimal("0.50"), size=Decimal("10")))

    wait_until(lambda: status_of(order_id) == S.OPEN, timeout=15)
    # The market comes to the order's price: it fills as a maker, half per second.
    settings.PARSEC_SIM_SEED = seed_where(market, lambda price: price <= Decimal("0.40"))
    reconcile_until(sim_trader, "polymarket", lambda: status_of(order_id) == S.PARTIALLY_FILLED)
    reconcile_until(sim_trader, "polymarket", lambda: Order.objects.get(pk=order_id).settled_at is not None)

    order = Order.objects.select_related("fee_authorization").get(pk=order_id)
    transitions = list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))
    assert transitions == [
        "awaiting_fee_auth",
        "queued",
        "submitting",
        "open",
        "partially_filled",
        "filled",
    ]
    assert order.filled == Decimal("10")
    assert sum(Fill.objects.filter(order=order).values_list("size", flat=True)) == Decimal("10")
    sim_order = SimOrder.objects.get(pk=order.parsec_order_id)
    assert sim_order.escrow_order_id == order.fee_authorization.escrow_order_id
    assert sim_order.payer_address == order.payer_address
    assert sim_order.signer_address == order.signer_address
    assert order.signer_address == sim_trader.signer.address
    totals = ledger_totals(order.fee_authorization)
    assert totals["authorized"] == int(order.fee_authorization.fee_amount) > 0
    assert (
        totals["authorized"]
        == totals["distributed_affiliate"] + totals["distributed_treasury"] + totals["refunded"]
    )
    assert totals["refunded"] == 0


def test_a_kalshi_order_without_a_fee_is_sent_and_filled(fast_sim, sim_trader, celery_worker):
    response = sim_trader.post_order(order_body(KALSHI_MARKET, price=Decimal("0.99"), size=Decimal("5")))
    assert response.status_code == 201
    body = decode_json(response.content)
    assert body["status"] == "queued"
    assert body["fee"] is None

    wait_until(lambda: status_of(body["id"]) == S.FILLED, timeout=15)  # a taker on arrival
    reconcile_until(sim_trader, "kalshi", lambda: Order.objects.get(pk=body["id"]).settled_at is not None)

    order = Order.objects.get(pk=body["id"])
    assert order.fee_authorization is None
    assert order.payer_address == ""
    assert sum(Fill.objects.filter(order=order).values_list("size", flat=True)) == Decimal("5")
    assert SimOrder.objects.get(pk=order.parsec_order_id).fee_amount is None


def test_an_ioc_order_fills_what_it_can_and_the_unfilled_fee_is_refunded(fast_sim, sim_trader, celery_worker):
    order_id = place_and_sign(
        sim_trader,
        order_body(
            polymarket_market(), price=Decimal("0.99"), size=Decimal("1000"), params={"order_type": "ioc"}
        ),
    )
    wait_until(lambda: status_of(order_id) == S.CANCELLED, timeout=15)
    reconcile_until(sim_trader, "polymarket", lambda: Order.objects.get(pk=order_id).settled_at is not None)

    order = Order.objects.select_related("fee_authorization").get(pk=order_id)
    assert Decimal(0) < order.filled < Decimal("1000")
    totals = ledger_totals(order.fee_authorization)
    assert 0 < totals["refunded"] < totals["authorized"]
    assert (
        totals["authorized"]
        == totals["distributed_affiliate"] + totals["distributed_treasury"] + totals["refunded"]
    )


# 5 shares: this market's minimum order size, and always within the book's depth at the touch.
@pytest.mark.parametrize(("size", "final"), [("1000", S.CANCELLED), ("5", S.FILLED)])
def test_a_fok_order_fills_entirely_or_not_at_all(fast_sim, sim_trader, celery_worker, size, final):
    order_id = place_and_sign(
        sim_trader,
        order_body(
            polymarket_market(), price=Decimal("0.99"), size=Decimal(size), params={"order_type": "fok"}
        ),
    )
    wait_until(lambda: status_of(order_id) == final, timeout=15)
    reconcile_until(sim_trader, "polymarket", lambda: Order.objects.get(pk=order_id).settled_at is not None)
    order = Order.objects.select_related("fee_authorization").get(pk=order_id)
    assert order.filled == (Decimal(0) if final == S.CANCELLED else Decimal(size))
    totals = ledger_totals(order.fee_authorization)
    assert totals["refunded"] == (totals["authorized"] if final == S.CANCELLED else 0)


def test_a_gtd_order_rests_until_its_expiration_then_shows_cancelled(fast_sim, sim_trader, celery_worker):
    expiration = int(time.time()) + 120
    order_id = place_and_sign(
        sim_trader,
        order_body(
            polymarket_market(),
            price=Decimal("0.01"),
            params={"order_type": "gtd", "expiration": str(expiration)},
        ),
    )
    wait_until(lambda: status_of(order_id) == S.OPEN, timeout=15)
    order = Order.objects.get(pk=order_id)
    sim_order = SimOrder.objects.get(pk=order.parsec_order_id)
    assert int(sim_order.expiration.timestamp()) == expiration == order.expiration
    # Let the simulator's clock reach the expiration without waiting two minutes.
    past = timezone.now() - timedelta(seconds=1)
    SimOrder.objects.filter(pk=sim_order.pk).update(expiration=past, next_event_at=past)

    reconcile_until(sim_trader, "polymarket", lambda: status_of(order_id) == S.CANCELLED)
    order.refresh_from_db()
    assert order.settled_at is not None
    assert ledger_totals(order.fee_authorization)["refunded"] == int(order.fee_authorization.fee_amount)


def test_unsupported_combinations_answer_501_and_reach_nobody(fast_sim, sim_trader, celery_worker):
    for body, exchange in (
        (order_body(KALSHI_MARKET, params={"order_type": "fok"}), "kalshi"),
        (order_body("eth-above-5000-june"), "limitless"),
    ):
        response = sim_trader.post_order(body, exchange=exchange)
        assert response.status_code == 501, response.content
        assert response.json()["code"] == "not_supported"
    assert not Order.objects.exists()
    assert not SimOrder.objects.exists()


def test_cancel_before_sending_never_reaches_parsec(fast_sim, sim_trader, celery_worker):
    response = sim_trader.post_order(order_body(polymarket_market()), exchange="polymarket")
    order_id = decode_json(response.content)["id"]

    cancelled = sim_trader.client.delete(f"/api/v1/orders/{order_id}")

    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    order = Order.objects.select_related("fee_authorization").get(pk=order_id)
    assert order.fee_authorization.state == "expired"
    assert not SimOrder.objects.exists()


def test_cancel_after_sending_cancels_at_parsec_and_refunds_the_fee(fast_sim, sim_trader, celery_worker):
    order_id = place_and_sign(sim_trader, order_body(polymarket_market(), price=Decimal("0.01")))
    wait_until(lambda: status_of(order_id) == S.OPEN, timeout=15)

    response = sim_trader.client.delete(f"/api/v1/orders/{order_id}")

    assert response.status_code == 202
    assert response.json()["status"] == "open"
    wait_until(lambda: Order.objects.get(pk=order_id).settled_at is not None, timeout=15)
    order = Order.objects.select_related("fee_authorization").get(pk=order_id)
    assert order.status == S.CANCELLED
    assert SimOrder.objects.get(pk=order.parsec_order_id).status == "cancelled"
    totals = ledger_totals(order.fee_authorization)
    assert totals["refunded"] == totals["authorized"] > 0
