"""Faults at Parsec (the simulator's X-Sim-Fault and fault rates): each lands in the right state, and
after reconciliation no order is lost and none is duplicated at the simulator."""

from __future__ import annotations

import contextlib
import time
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone
from orders_support import KALSHI_MARKET, make_trader, order_body, polymarket_market, wait_until

from audit.services import Actor
from orders.models import Order, OrderEvent
from orders.services import in_doubt, reconcile, reconcile_schedule, sweep
from parsec import conf
from parsec.client import ParsecClient, ParsecError, decode_json
from parsec.sim.models import SimOrder

S = Order.Status
SETTLED_STATES = {S.OPEN, S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED}


class CreateFaults(httpx.HTTPTransport):
    """Adds X-Sim-Fault to the next creates (POST /orders), one fault name per create."""

    def __init__(self, faults: list[str]) -> None:
        super().__init__()
        self.faults = faults

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/orders") and self.faults:
            request.headers["X-Sim-Fault"] = self.faults.pop(0)
        return super().handle_request(request)


@pytest.fixture
def fault_on_create(parsec_sim, settings, monkeypatch):
    """Route the platform's Parsec calls through a client whose next creates carry the given faults."""
    settings.ORDER_SUBMIT_BACKOFF_BASE_SECONDS = 0.1
    settings.ORDER_SUBMIT_BACKOFF_MAX_SECONDS = 0.4
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 2
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 1
    faults: list[str] = []
    client = ParsecClient(
        base_url=settings.PARSEC_BASE_URL,
        api_key=settings.PARSEC_API_KEY,
        connect_timeout=1.0,
        read_timeout=1.0,
        read_retries=1,
        transport=CreateFaults(faults),
    )
    monkeypatch.setattr(conf, "get_client", lambda: client)
    yield faults
    client.close()


def reconcile_all() -> None:
    for customer_id, exchange in list(reconcile_schedule.reconcile_pairs()):
        # A read that failed changes nothing; the next pass retries.
        with contextlib.suppress(ParsecError):
            reconcile.reconcile_customer_exchange(
                customer_id=customer_id, exchange=exchange, now=timezone.now()
            )


def drive_until_settled(timeout: float) -> None:
    """What beat would do: sweep the outbox and reconcile, until no order is in flight or in doubt."""
    deadline = time.monotonic() + timeout
    while True:
        sweep.orders_outbox_sweep(now=timezone.now())
        reconcile_all()
        if not Order.objects.filter(status__in=[S.QUEUED, S.SUBMITTING, S.UNKNOWN]).exists():
            return
        if time.monotonic() > deadline:
            stuck = list(
                Order.objects.exclude(status__in=SETTLED_STATES).values_list("status", "last_error_code")
            )
            raise AssertionError(f"orders still in flight after {timeout} s: {stuck[:20]}")
        time.sleep(0.1)


def assert_no_loss_and_no_duplicate() -> None:
    local = list(Order.objects.values_list("status", "parsec_order_id"))
    assert all(status in SETTLED_STATES for status, _ in local), local
    local_ids = [parsec_id for _, parsec_id in local]
    assert None not in local_ids  # nothing lost: every order reached Parsec
    assert len(set(local_ids)) == len(local_ids)
    # Nothing duplicated: every order at the simulator belongs to exactly one of ours.
    assert sorted(SimOrder.objects.values_list("id", flat=True)) == sorted(local_ids)


def place(trader, **overrides) -> str:
    response = trader.post_order(order_body(KALSHI_MARKET, **overrides))
    assert response.status_code == 201, response.content
    return decode_json(response.content)["id"]


@pytest.mark.parametrize(
    ("fault", "passes_through"),
    [
        ("error-503", "queued"),
        ("error-500", "unknown"),
        ("rate-limit", "queued"),
        ("latency", None),
        ("timeout-before-apply", "unknown"),
        ("apply-then-drop", "unknown"),
    ],
)
def test_each_fault_on_create_lands_in_the_right_state_and_ends_with_one_order_at_parsec(
    fault_on_create, sim_trader, celery_worker, fault, passes_through
):
    fault_on_create.append(fault)
    order_id = place(sim_trader)

    wait_until(lambda: Order.objects.get(pk=order_id).submit_attempts >= 1, timeout=10)
    drive_until_settled(timeout=30)

    order = Order.objects.get(pk=order_id)
    assert order.status == S.OPEN
    visited = list(OrderEvent.objects.filter(order=order).values_list("to_status", flat=True))
    if passes_through:
        assert passes_through in visited[2:], visited
    else:
        assert visited == ["queued", "submitting", "open"]
    if fault == "timeout-before-apply":
        assert "queued" in visited[3:]  # never applied: sent again after the empty listings
    if fault == "apply-then-drop":
        assert order.submit_attempts == 1  # applied: adopted, never sent twice
    assert_no_loss_and_no_duplicate()


@pytest.mark.parametrize(
    "wording",
    [
        "fee_auth.order_id was already used: each escrow order id pays for one order only",
        # Parsec may reword it at any time: the decision rests on the status and code, not the words.
        "Escrow authorization 0x… has been consumed by a previous request",
    ],
)
def test_a_resend_refused_for_a_used_escrow_order_id_stays_in_doubt_and_is_adopted(
    fault_on_create, sim_trader, celery_worker, monkeypatch, wording
):
    from parsec.sim import services as sim_services

    monkeypatch.setattr(sim_services, "ESCROW_ORDER_ID_REUSED_MESSAGE", wording)
    fault_on_create.append("apply-then-drop")
    response = sim_trader.post_order(order_body(polymarket_market()), exchange="polymarket")
    created = decode_json(response.content)
    sim_trader.client.post(
        f"/api/v1/orders/{created['id']}/fee-authorization",
        {"signature": sim_trader.sign(created["fee_authorization"]["typed_data"])},
        format="json",
    )
    wait_until(lambda: Order.objects.get(pk=created["id"]).status == S.UNKNOWN, timeout=10)
    # As if every listing had missed it: send it again, with the same escrow order id.
    assert in_doubt.order_resend(
        actor=Actor.system("test"), order_id=created["id"], cause="test_resend", now=timezone.now()
    )
    wait_until(
        lambda: OrderEvent.objects.filter(order_id=created["id"], cause="escrow_order_id_used").exists(),
        timeout=10,
    )

    drive_until_settled(timeout=20)

    order = Order.objects.get(pk=created["id"])
    assert order.status == S.OPEN
    assert not OrderEvent.objects.filter(order=order, to_status=S.REJECTED).exists()
    assert SimOrder.objects.count() == 1
    assert_no_loss_and_no_duplicate()


def test_a_soak_of_300_orders_with_a_fifth_of_requests_faulted_loses_and_duplicates_nothing(
    parsec_sim, tradable_exchanges, celery_worker, settings
):
    settings.ORDER_SUBMIT_BACKOFF_BASE_SECONDS = 0.1
    settings.ORDER_SUBMIT_BACKOFF_MAX_SECONDS = 0.5
    settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND = 2
    settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS = 1
    settings.ORDER_OUTBOX_STALE_SECONDS = 2
    settings.PARSEC_SIM_HOLD_SECONDS = 1.5
    traders = [make_trader(parsec_client=parsec_sim) for _ in range(3)]
    # 20% of every request to the simulator fails, in every way it can.
    settings.PARSEC_SIM_FAULT_RATES = {
        "error-503": 0.05,
        "error-500": 0.03,
        "rate-limit": 0.04,
        "latency": 0.02,
        "timeout-before-apply": 0.03,
        "apply-then-drop": 0.03,
    }

    for index in range(300):
        trader = traders[index % 3]
        # Distinct intents; some rest (low price), some fill at once (0.99).
        price = Decimal("0.99") if index % 5 == 0 else Decimal(1 + index % 90) / 100
        place(trader, price=price, size=Decimal(1 + index // 90))

    # A liveness bound, not a speed claim (speed is measured in benchmarks/orders_chaos.py): generous,
    # so that a loaded 2-core machine running SQLite still settles.
    drive_until_settled(timeout=240)
    settings.PARSEC_SIM_FAULT_RATES = {}
    reconcile_all()

    assert Order.objects.count() == 300
    assert_no_loss_and_no_duplicate()
    faulted = OrderEvent.objects.filter(to_status__in=[S.UNKNOWN, S.QUEUED]).exclude(cause="created")
    assert faulted.exists()  # the faults did strike
