"""Trading halts: each scope refuses exactly its orders with its own code, lifting restores, and queued
orders are held (not sent) while halted and go after the lift; a suspended partner reads and cancels."""

from __future__ import annotations

import logging

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from factories import make_customer, make_eth_account, make_wallet
from orders_support import make_trader, order_body, place, polymarket_market

from audit.models import AuditAction, AuditEntry
from audit.services import Actor
from customers.models import Customer, Partner, Wallet
from customers.services import partner_status_set
from halts.errors import HaltError
from halts.models import TradingHalt
from halts.services import trading_halt_lift, trading_halt_set
from orders.models import Order
from orders.services import submission
from orders.vocabulary import SubmitOutcome

pytestmark = pytest.mark.django_db

Scope = TradingHalt.Scope


@pytest.fixture
def staff() -> Actor:
    return Actor.staff(User.objects.create_user("alice", is_staff=True))


def _second_customer(trader) -> Customer:
    other = make_customer(
        partner=trader.partner, status=Customer.Status.ACTIVE, parsec_customer_id="sim-other"
    )
    make_wallet(customer=other, address=trader.signer.address, role=Wallet.Role.SIGNER)
    make_wallet(customer=other, address=make_eth_account().address, role=Wallet.Role.PAYER)
    return other


def _halt(staff: Actor, **target) -> TradingHalt:
    return trading_halt_set(reason="Exchange outage under review.", actor=staff, now=timezone.now(), **target)


def _code(response) -> tuple[int, str]:
    return response.status_code, response.json().get("code", "")


def test_a_global_halt_refuses_every_order_with_trading_halted_and_lifting_restores(trader, enqueued, staff):
    other = make_trader(name="Other Co")
    halt = _halt(staff, scope=Scope.GLOBAL)

    for who in (trader, other):
        response = who.post_order(order_body())
        assert _code(response) == (503, "trading_halted")
        assert "Exchange outage under review." in response.json()["error"]
    assert not Order.objects.exists()

    assert trading_halt_lift(halt=halt, actor=staff, now=timezone.now()) is True
    assert trader.post_order(order_body()).status_code == 201


def test_an_exchange_halt_refuses_that_exchange_only(trader, enqueued, staff):
    _halt(staff, scope=Scope.EXCHANGE, exchange="polymarket")

    response = trader.post_order(order_body(polymarket_market()), exchange="polymarket")
    assert _code(response) == (503, "exchange_halted")
    assert "polymarket" in response.json()["error"]
    assert trader.post_order(order_body()).status_code == 201


def test_a_customer_halt_refuses_that_customer_only(trader, enqueued, staff):
    other = _second_customer(trader)
    _halt(staff, scope=Scope.CUSTOMER, customer=trader.customer)

    assert _code(trader.post_order(order_body())) == (409, "customer_disabled")
    assert trader.post_order(order_body(), customer_id=str(other.id)).status_code == 201


def test_a_partner_halt_refuses_that_partner_only(trader, enqueued, staff):
    other = make_trader(name="Other Co")
    _halt(staff, scope=Scope.PARTNER, partner=trader.partner)

    assert _code(trader.post_order(order_body())) == (409, "partner_suspended")
    assert other.post_order(order_body()).status_code == 201


def test_a_second_active_halt_of_the_same_target_is_refused_and_each_change_is_audited(trader, staff):
    halt = _halt(staff, scope=Scope.EXCHANGE, exchange="kalshi")
    with pytest.raises(HaltError) as refused:
        _halt(staff, scope=Scope.EXCHANGE, exchange="kalshi")
    assert refused.value.code == "halt_already_active"
    with pytest.raises(HaltError) as invalid:
        trading_halt_set(scope=Scope.GLOBAL, reason="  ", actor=staff, now=timezone.now())
    assert invalid.value.code == "invalid_halt"

    trading_halt_lift(halt=halt, actor=staff, now=timezone.now())
    assert trading_halt_lift(halt=halt, actor=staff, now=timezone.now()) is False
    halts = AuditEntry.objects.filter(action__startswith="halt.").order_by("id")
    actions = list(halts.values_list("action", "actor_label"))
    assert actions == [(AuditAction.HALT_SET, "staff alice"), (AuditAction.HALT_LIFTED, "staff alice")]
    halt.refresh_from_db()
    assert (halt.set_by_label, halt.lifted_by_label) == ("staff alice", "staff alice")


def test_a_queued_order_is_held_while_halted_and_sent_after_the_lift(
    trader, enqueued, staff, scripted_parsec
):
    order = place(trader)
    assert order.status == Order.Status.QUEUED
    halt = _halt(staff, scope=Scope.EXCHANGE, exchange="kalshi")

    result = submission.order_submit(order_id=order.id, now=timezone.now())
    assert result.outcome == SubmitOutcome.HELD
    order.refresh_from_db()
    assert order.status == Order.Status.QUEUED
    assert not [name for name, _ in scripted_parsec.calls if name == "create_order"]

    trading_halt_lift(halt=halt, actor=staff, now=timezone.now())
    assert submission.order_submit(order_id=order.id, now=timezone.now()).outcome == SubmitOutcome.ACCEPTED
    assert [name for name, _ in scripted_parsec.calls].count("create_order") == 1


def test_a_suspended_partner_reads_and_cancels_but_places_no_order(trader, enqueued, staff):
    order = place(trader)
    partner_status_set(
        partner=trader.partner, status=Partner.Status.SUSPENDED, actor=staff, now=timezone.now()
    )

    assert trader.client.get("/api/v1/orders").status_code == 200
    assert trader.client.get(f"/api/v1/orders/{order.id}").status_code == 200
    response = trader.post_order(order_body())
    assert _code(response) == (409, "partner_suspended")
    assert trader.client.post("/api/v1/customers", {"external_id": "x"}, format="json").status_code == 409

    cancelled = trader.client.delete(f"/api/v1/orders/{order.id}")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    assert trader.client.post("/api/v1/orders/cancel-all", {}, format="json").status_code == 202
    assert AuditEntry.objects.filter(action=AuditAction.PARTNER_SUSPENDED).count() == 1

    partner_status_set(partner=trader.partner, status=Partner.Status.ACTIVE, actor=staff, now=timezone.now())
    assert trader.post_order(order_body()).status_code == 201
    assert AuditEntry.objects.filter(action=AuditAction.PARTNER_REACTIVATED).count() == 1


def test_a_suspended_partners_queued_orders_are_held(trader, enqueued, staff, scripted_parsec):
    order = place(trader)
    partner_status_set(
        partner=trader.partner, status=Partner.Status.SUSPENDED, actor=staff, now=timezone.now()
    )
    assert submission.order_submit(order_id=order.id, now=timezone.now()).outcome == SubmitOutcome.HELD


def test_disabling_a_customer_through_the_api_is_audited_with_the_key(trader):
    response = trader.client.patch(
        f"/api/v1/customers/{trader.customer.id}", {"status": "disabled"}, format="json"
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.get(action=AuditAction.CUSTOMER_DISABLED)
    assert entry.actor_label.startswith("key bp_")
    assert entry.target_id == str(trader.customer.id)


def test_a_halt_refusal_is_logged_once_as_a_warning_not_an_error(trader, enqueued, staff, caplog):
    _halt(staff, scope=Scope.GLOBAL)

    with caplog.at_level(logging.INFO):
        assert _code(trader.post_order(order_body())) == (503, "trading_halted")

    request_records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.levelname, r.status_code) for r in request_records] == [("WARNING", 503)]
    assert "trading_halted" in request_records[0].getMessage()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
