"""A state machine of the order lifecycle against a scripted Parsec: whatever happens, in any order, no
illegal transition is ever recorded, filled never exceeds size, final states never change and an order
never has more than one Parsec id."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from orders_support import ScriptedParsec, cache_catalogue_markets, in_doubt, make_trader, place, unavailable

from orders.errors import OrderError
from orders.models import Order, OrderEvent
from orders.services import cancel, reconcile, submission, sweep
from orders.transitions import is_allowed
from orders.vocabulary import EventCause
from parsec import conf
from parsec.client import ParsecRejected

S = Order.Status

CREATE_OUTCOMES = st.sampled_from(["accept", "reject", "unavailable", "lost_applied", "lost_not_applied"])


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.parsec = ScriptedParsec()
        self.clock = timezone.now()
        self.trader = None
        self.order_ids: list = []
        self.final_seen: dict = {}
        self.parsec_id_seen: dict = {}

    @initialize()
    def set_up(self) -> None:
        conf.get_client = lambda: self.parsec  # restored by the test
        cache_catalogue_markets()  # fresh for each example: the whole run outlasts the markets' cache
        self.trader = make_trader()
        self.customer_key = self.trader.customer.parsec_customer_id

    def tick(self, seconds: float = 1.0) -> None:
        self.clock += timedelta(seconds=seconds)

    @rule(price_cents=st.integers(min_value=1, max_value=5), size=st.integers(min_value=1, max_value=4))
    def create(self, price_cents: int, size: int) -> None:
        order = place(self.trader, now=self.clock, price=Decimal(price_cents) / 100, size=Decimal(size))
        self.order_ids.append(order.id)

    @precondition(lambda self: self.order_ids)
    @rule(index=st.integers(min_value=0), outcome=CREATE_OUTCOMES)
    def submit(self, index: int, outcome: str) -> None:
        order_id = self.order_ids[index % len(self.order_ids)]
        self.parsec.create_outcomes = [
            {
                "accept": None,
                "reject": ParsecRejected(status=400, code="bad_request", message="no"),
                "unavailable": unavailable(),
                "lost_applied": in_doubt(applied=True),
                "lost_not_applied": in_doubt(applied=False),
            }[outcome]
        ]
        submission.order_submit(order_id=order_id, now=self.clock + timedelta(hours=1))
        self.parsec.create_outcomes = []

    @precondition(lambda self: self.parsec.orders)
    @rule(index=st.integers(min_value=0), fraction=st.sampled_from(["0.5", "1"]), cancel=st.booleans())
    def parsec_moves(self, index: int, fraction: str, cancel: bool) -> None:
        remote_orders = self.parsec.orders.get(self.customer_key, [])
        if not remote_orders:
            return
        remote = remote_orders[index % len(remote_orders)]
        if remote.status in {"filled", "cancelled", "rejected"}:
            return
        if cancel:
            self.parsec.set_order(self.customer_key, remote.id, status="cancelled")
            return
        step = min(remote.size - remote.filled, remote.size * Decimal(fraction))
        if step <= 0:
            return
        self.parsec.add_fill(self.customer_key, remote, str(step))
        filled = remote.filled + step
        self.parsec.set_order(
            self.customer_key,
            remote.id,
            filled=filled,
            status="filled" if filled >= remote.size else "partially_filled",
        )

    @rule(seconds=st.sampled_from([1, 30, 120]))
    def reconcile(self, seconds: int) -> None:
        self.tick(seconds)
        reconcile.reconcile_customer_exchange(
            customer_id=self.trader.customer.id, exchange="kalshi", now=self.clock
        )

    @rule(seconds=st.sampled_from([1, 90, 700]))
    def sweep(self, seconds: int) -> None:
        self.tick(seconds)
        sweep.orders_outbox_sweep(now=self.clock)

    @precondition(lambda self: self.order_ids)
    @rule(index=st.integers(min_value=0))
    def cancel(self, index: int) -> None:
        order = Order.objects.get(pk=self.order_ids[index % len(self.order_ids)])
        if order.is_final:
            with pytest.raises(OrderError, match="already"):
                cancel.order_cancel_request(order=order, now=self.clock)
        else:
            cancel.order_cancel_request(order=order, now=self.clock)
        cancel.order_cancel_at_parsec(order_id=order.id, now=self.clock)

    @invariant()
    def lifecycle_holds(self) -> None:
        if not self.order_ids:
            return
        events = OrderEvent.objects.filter(order_id__in=self.order_ids)
        for from_status, to_status in events.exclude(cause="created").values_list("from_status", "to_status"):
            assert is_allowed(from_status, to_status), (from_status, to_status)
        # Every cause written is a word of the vocabulary, never a free string.
        assert set(events.values_list("cause", flat=True)) <= set(EventCause)
        for order in Order.objects.filter(pk__in=self.order_ids):
            assert Decimal(0) <= order.filled <= order.size
            if order.pk in self.final_seen:
                assert order.status == self.final_seen[order.pk], "a final state changed"
            elif order.status in Order.FINAL_STATUSES:
                self.final_seen[order.pk] = order.status
            if order.pk in self.parsec_id_seen:
                assert order.parsec_order_id == self.parsec_id_seen[order.pk], "a second Parsec id"
            elif order.parsec_order_id:
                self.parsec_id_seen[order.pk] = order.parsec_order_id
        parsec_ids = [value for value in self.parsec_id_seen.values()]
        assert len(parsec_ids) == len(set(parsec_ids)), "two orders claim one Parsec order"


@pytest.mark.django_db
def test_the_order_lifecycle_holds_under_any_sequence_of_events(tradable_exchanges, enqueued, monkeypatch):
    monkeypatch.setattr(conf, "get_client", conf.get_client)  # the machine swaps it; this restores it
    run_state_machine_as_test(
        OrderLifecycle,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
