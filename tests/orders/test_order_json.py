"""The plain renderer of an Order (events on the submission's hot path) gives what the API serializer does."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from orders.models import Order
from orders.serializers import OrderOutputSerializer, order_json
from parsec.client import encode_json
from tests.factories import make_customer, make_fee_authorization

S = Order.Status


def _order(customer, *, status: str, fee: bool, size: Decimal = Decimal("100.000000"), **fields) -> Order:
    now = timezone.now()
    authorization = make_fee_authorization(customer=customer, fee_amount=137_500) if fee else None
    order = Order.objects.create(
        partner=customer.partner,
        customer=customer,
        status=status,
        exchange="polymarket" if fee else "kalshi",
        market_id="KXFEDDECISION-26JAN-C25",
        outcome="Yes",
        side="sell",
        price=Decimal("0.650000"),
        size=size,
        filled=Decimal("2.500000"),
        fee_authorization=authorization,
        created_at=now - timedelta(seconds=3, microseconds=17),
        updated_at=now,
        **fields,
    )
    return Order.objects.select_related("fee_authorization").get(id=order.id)


@pytest.mark.django_db
@pytest.mark.parametrize("status", [choice for choice, _ in Order.Status.choices])
@pytest.mark.parametrize("fee", [False, True], ids=["fee-less", "fee-bearing"])
def test_order_json_is_the_serializers_output(status, fee):
    customer = make_customer()
    plain = _order(customer, status=status, fee=fee)
    detailed = _order(
        customer,
        status=status,
        fee=fee,
        size=Decimal("7.250000"),
        parsec_order_id=f"pm-{status}-{fee}",
        order_type="gtd",
        expiration=1_767_225_600,
        cancel_requested_at=timezone.now(),
        last_error_code="rate_limited",
        last_error_message="Slow down.",
        version=7,
    )
    for order in (plain, detailed):
        expected = dict(OrderOutputSerializer(order).data)
        assert order_json(order) == expected
        # As the event body stores it: the same bytes, types included (a Decimal is not a string).
        assert encode_json(order_json(order)) == encode_json(expected)
    assert (order_json(plain)["fee"] is None) is not fee
    assert (order_json(detailed)["fee_authorization"] is None) is (status != S.AWAITING_FEE_AUTH or not fee)


@pytest.mark.django_db
def test_order_json_renders_a_status_enum_member_as_its_value():
    order = _order(make_customer(), status=S.OPEN, fee=False)
    order.status = S.PARTIALLY_FILLED  # as a service sets it in memory
    assert order_json(order)["status"] == "partially_filled" == OrderOutputSerializer(order).data["status"]
