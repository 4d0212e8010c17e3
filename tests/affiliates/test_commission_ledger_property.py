"""A property of the commission ledger: whatever happens, every base unit booked is accounted for once."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import Decimal

import pytest
from affiliates_support import NOW, escrowed_order, fill, make_web_customer, refer, store_escrow_config
from django.db import transaction
from django.db.models import Sum
from factories import make_partner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from affiliates import services
from audit.services import Actor
from fees import services as fee_services
from fees.commission_models import Commission, Payout
from fees.models import FeeLedgerEntry
from fees.money import bps_share
from referrals import services as referral_services

pytestmark = pytest.mark.django_db

SIZE = Decimal("100000")
operations = st.lists(
    st.one_of(
        st.tuples(st.just("fill"), st.integers(0, 2), st.integers(1, 60)),  # order, percent of the size
        st.tuples(st.just("final"), st.integers(0, 2)),  # the order ends: the rest is refunded
        st.tuples(st.just("reverse"), st.integers(0, 50)),  # the nth commission
        st.tuples(st.just("days"), st.integers(1, 40)),  # the clock moves on
        st.tuples(st.just("run")),  # the payout run for the month before
        st.tuples(st.just("pay"), st.integers(0, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
    ),
    max_size=30,
)


class Rollback(Exception):
    pass


def _sum(queryset) -> int:
    return int(queryset.aggregate(total=Sum("amount"))["total"] or 0)


def apply(steps) -> None:
    now = NOW
    store_escrow_config(now=now)
    partner = make_partner(revenue_share_bps=2500)
    referral_services.referral_code_create(partner=partner, code="prop", now=now)
    web = make_web_customer("property")
    refer(web, "prop", now=now)
    orders = [escrowed_order(web, size=str(SIZE), now=now) for _ in range(3)]
    closed: set[int] = set()
    paid_amounts: dict[int, int] = {}
    for step in steps:
        kind = step[0]
        if kind == "fill":
            index, percent = step[1], step[2]
            order, authorization = orders[index]
            room = SIZE - order.filled
            size = min(room, SIZE * percent / 100)
            if index not in closed and size > 0:
                fill(order, authorization, size=str(size), now=now)
        elif kind == "final" and step[1] not in closed:
            order, authorization = orders[step[1]]
            fee_services.fee_ledger_record_final(
                fee_authorization=authorization, filled_total=order.filled, size=SIZE, now=now
            )
            closed.add(step[1])
        elif kind == "reverse":
            booked = list(Commission.objects.filter(kind="commission").order_by("id"))
            if booked:
                target = booked[step[1] % len(booked)]
                # Refused when reversed already or in a pending payout: nothing changes then.
                with contextlib.suppress(services.AffiliateError):
                    services.commission_reverse(commission=target, reason="test", reversed_by="prop", now=now)
        elif kind == "days":
            now += timedelta(days=step[1])
        elif kind == "run":
            services.payout_run(
                actor=Actor.system("test"), period=services.previous_period(now), now=now, minimum=1
            )
        elif kind in ("pay", "cancel"):
            pending = list(Payout.objects.filter(state="pending").order_by("id"))
            if pending:
                payout = pending[step[1] % len(pending)]
                if kind == "pay":
                    services.payout_mark_paid(
                        actor=Actor.system("test"), payout=payout, reference="tx", paid_by="prop", now=now
                    )
                    paid_amounts[payout.pk] = payout.amount
                else:
                    services.payout_cancel(
                        actor=Actor.system("test"), payout=payout, cancelled_by="prop", now=now
                    )

    # Booked from what was distributed, never from what was authorized: the share of the affiliate part.
    for _order, authorization in orders:
        affiliate = _sum(
            FeeLedgerEntry.objects.filter(fee_authorization=authorization, kind="distributed_affiliate")
        )
        booked = _sum(Commission.objects.filter(fee_authorization=authorization, kind="commission"))
        assert booked == bps_share(affiliate, 2500)
    booked = _sum(Commission.objects.filter(kind="commission"))
    clawed_back = -_sum(Commission.objects.filter(kind="reversal"))
    by_state = {state: _sum(Commission.objects.filter(state=state)) for state in Commission.State.values}
    assert by_state["paid"] + by_state["available"] + by_state["pending"] + clawed_back == booked
    # No commission paid twice: every paid one is in exactly one paid payout, whose amount is its lines'.
    assert not Commission.objects.filter(state="paid").exclude(payout__state="paid").exists()
    assert not Commission.objects.filter(payout__state="cancelled").exists()
    assert by_state["paid"] == _sum(Payout.objects.filter(state="paid"))
    for payout in Payout.objects.exclude(state="cancelled"):
        assert payout.amount == _sum(payout.commissions.all())
    for payout_id, amount in paid_amounts.items():
        assert Payout.objects.get(pk=payout_id).amount == amount  # paid payouts never change


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_commissions_paid_available_and_pending_less_clawbacks_equal_commissions_booked(steps):
    try:
        with transaction.atomic():
            apply(steps)
            raise Rollback
    except Rollback:
        pass
