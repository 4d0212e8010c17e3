"""Mass cancel asks exactly the matching live orders to cancel, once, naming who asked; the dead-man
switch fires after its deadline (and not before), once, and a heartbeat pushes the deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from orders_support import make_trader, place

from audit.models import AuditAction, AuditEntry
from audit.services import Actor
from orders.models import DeadManSwitch, Order, OrderEvent
from orders.services.dead_man_switch import dead_man_switches_fire, heartbeat_record

pytestmark = pytest.mark.django_db
S = Order.Status


def _cancel_all(trader, **body):
    return trader.client.post("/api/v1/orders/cancel-all", body, format="json")


def _live(trader, *, market_id: str | None = None) -> Order:
    """An order sent to Parsec and open there (its cancel goes through the cancel queue)."""
    order = place(trader, **({"market_id": market_id} if market_id else {}))
    Order.objects.filter(pk=order.pk).update(status=S.OPEN, parsec_order_id=f"p-{order.pk}")
    return order


def test_cancel_all_cancels_exactly_the_matching_live_orders_once(trader, enqueued):
    other = make_trader(name="Other Co")
    queued, live = place(trader), _live(trader)
    filled = place(trader)
    Order.objects.filter(pk=filled.pk).update(status=S.FILLED)
    foreign = place(other)

    response = _cancel_all(trader)
    assert (response.status_code, response.json()) == (202, {"cancel_requested": 2})

    statuses = dict(Order.objects.values_list("id", "status"))
    assert statuses[queued.id] == S.CANCELLED  # never sent: cancelled at once
    assert statuses[live.id] == S.OPEN  # live: its cancel is queued for Parsec
    assert Order.objects.get(pk=live.pk).cancel_requested_at is not None
    assert ("orders.cancel", (str(live.id),)) in enqueued
    assert (statuses[filled.id], statuses[foreign.id]) == (S.FILLED, S.QUEUED)

    for order in (queued, live):
        event = OrderEvent.objects.filter(order=order, detail__has_key="requested_by").get()
        assert event.detail["requested_by"].startswith("key bp_")
    assert _cancel_all(trader).json() == {"cancel_requested": 0}
    entries = AuditEntry.objects.filter(action=AuditAction.ORDERS_MASS_CANCEL).order_by("id")
    assert [entry.after["cancel_requested"] for entry in entries] == [2, 0]


def test_cancel_all_filters_by_customer_exchange_and_market(trader, enqueued):
    first = place(trader)
    response = _cancel_all(trader, customer=str(trader.customer.id), exchange="polymarket")
    assert response.json() == {"cancel_requested": 0}
    response = _cancel_all(
        trader, customer=str(trader.customer.id), exchange="kalshi", market_id=first.market_id
    )
    assert response.json() == {"cancel_requested": 1}


def test_cancel_all_refuses_an_unknown_exchange_and_a_foreign_customer(trader, enqueued):
    other = make_trader(name="Other Co")
    assert _cancel_all(trader, exchange="nasdaq").status_code == 400
    assert _cancel_all(trader, surprise=1).status_code == 400
    foreign = _cancel_all(trader, customer=str(other.customer.id))
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")


def test_the_dead_man_switch_fires_after_the_deadline_once_and_a_heartbeat_pushes_it(trader, enqueued):
    actor, start = Actor.partner_key(trader.partner.api_keys.get()), timezone.now()
    order = place(trader)
    heartbeat_record(partner=trader.partner, cancel_after_seconds=30, actor=actor, now=start)

    assert dead_man_switches_fire(now=start + timedelta(seconds=29)) == 0
    heartbeat_record(
        partner=trader.partner, cancel_after_seconds=30, actor=actor, now=start + timedelta(seconds=20)
    )
    assert dead_man_switches_fire(now=start + timedelta(seconds=31)) == 0  # pushed to 50 s
    order.refresh_from_db()
    assert order.status == S.QUEUED

    assert dead_man_switches_fire(now=start + timedelta(seconds=50)) == 1
    assert dead_man_switches_fire(now=start + timedelta(seconds=51)) == 0  # once per expiry
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    event = OrderEvent.objects.get(order=order, to_status=S.CANCELLED)
    assert event.detail == {"requested_by": "dead-man switch"}
    # The trader's key, made by the fixture, has an audit row of its own (api_key.created).
    trading = AuditEntry.objects.exclude(action=AuditAction.API_KEY_CREATED).order_by("id")
    actions = list(trading.values_list("action", flat=True))
    assert actions == [
        AuditAction.HEARTBEAT_ARMED,
        AuditAction.ORDERS_MASS_CANCEL,
        AuditAction.HEARTBEAT_FIRED,
    ]
    assert DeadManSwitch.objects.get(partner=trader.partner).armed is False


def test_a_heartbeat_of_0_disarms_and_bad_bounds_are_refused(trader, enqueued):
    response = trader.client.post("/api/v1/heartbeat", {"cancel_after_seconds": 10}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["armed"] is True
    assert body["deadline"]
    for bad in (3, 86401, -1, "soon"):
        refused = trader.client.post("/api/v1/heartbeat", {"cancel_after_seconds": bad}, format="json")
        assert refused.status_code == 400, bad
    disarmed = trader.client.post("/api/v1/heartbeat", {"cancel_after_seconds": 0}, format="json")
    assert (disarmed.json()["armed"], disarmed.json()["deadline"]) == (False, None)
    order = place(trader)
    assert dead_man_switches_fire(now=timezone.now() + timedelta(days=2)) == 0
    order.refresh_from_db()
    assert order.status == S.QUEUED
    assert AuditEntry.objects.filter(action=AuditAction.HEARTBEAT_DISARMED).count() == 1


def test_a_heartbeat_after_the_deadline_does_not_save_the_orders(trader, enqueued):
    actor, start = Actor.system("test"), timezone.now()
    order = place(trader)
    heartbeat_record(partner=trader.partner, cancel_after_seconds=10, actor=actor, now=start)
    switch = heartbeat_record(
        partner=trader.partner, cancel_after_seconds=10, actor=actor, now=start + timedelta(seconds=11)
    )
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert switch.armed is True  # armed again from this heartbeat


def test_cancel_all_takes_market_as_another_name_for_market_id(trader, enqueued):
    kept, cancelled = place(trader), place(trader)
    Order.objects.filter(pk=cancelled.pk).update(market_id="KXOTHER-26-X")

    assert _cancel_all(trader, market="KXOTHER-26-X").json() == {"cancel_requested": 1}
    clash = _cancel_all(trader, market="KXOTHER-26-X", market_id=kept.market_id)
    assert clash.status_code == 400
    assert clash.json()["code"] == "validation_error"
    assert Order.objects.get(pk=cancelled.pk).status == S.CANCELLED
    assert Order.objects.get(pk=kept.pk).status == S.QUEUED
