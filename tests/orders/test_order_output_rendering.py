"""An order renders exactly as DRF's own field-by-field serialization would, with fields built once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from orders_support import order_body, polymarket_market
from rest_framework import serializers

from orders.models import Order
from orders.serializers import OrderDetailOutputSerializer, OrderOutputSerializer
from orders.services import intake
from parsec.client import encode_json

pytestmark = pytest.mark.django_db


def _as_drf_renders_it(order: Order) -> dict:
    """A fresh serializer's own fields, as ModelSerializer builds them for every instance."""
    return serializers.ModelSerializer.to_representation(OrderOutputSerializer(), order)


def _assert_same_rendering(order: Order) -> None:
    rendered = OrderOutputSerializer(order).data
    expected = _as_drf_renders_it(order)
    assert rendered == expected
    assert list(rendered) == list(expected)  # the same key order, so the same bytes
    assert encode_json(rendered) == encode_json(expected)


def test_a_fee_less_order_renders_as_drf_would_in_memory_and_read_back(trader, enqueued):
    now = timezone.now()
    order = intake.order_create(
        partner=trader.partner,
        customer_id=str(trader.customer.id),
        exchange="kalshi",
        body=order_body(price=Decimal("0.65"), size=Decimal("12")),
        now=now,
    )
    _assert_same_rendering(order)  # as created: status a TextChoices member, Decimals as given

    Order.objects.filter(pk=order.pk).update(
        parsec_order_id="ord_parsec_1",
        cancel_requested_at=now + timedelta(seconds=3),
        last_error_code="rejected",
        last_error_message="Parsec said no.",
        filled=Decimal("2.5"),
    )
    read_back = Order.objects.select_related("fee_authorization").get(pk=order.pk)
    _assert_same_rendering(read_back)
    assert OrderOutputSerializer(read_back).data["last_error"] == {
        "code": "rejected",
        "message": "Parsec said no.",
    }


def test_a_fee_bearing_order_renders_its_fee_and_typed_data_as_drf_would(sim_trader, enqueued):
    order = intake.order_create(
        partner=sim_trader.partner,
        customer_id=str(sim_trader.customer.id),
        exchange="polymarket",
        body=order_body(polymarket_market(), price=Decimal("0.55")),
        now=timezone.now(),
    )
    assert order.status == Order.Status.AWAITING_FEE_AUTH
    _assert_same_rendering(order)
    assert OrderOutputSerializer(order).data["fee_authorization"]["typed_data"]["primaryType"] == "PullFee"


def test_the_detail_still_renders_with_its_fills_and_events(trader, enqueued):
    order = intake.order_create(
        partner=trader.partner,
        customer_id=str(trader.customer.id),
        exchange="kalshi",
        body=order_body(),
        now=timezone.now(),
    )
    detail = OrderDetailOutputSerializer(Order.objects.get(pk=order.pk)).data
    assert detail["id"] == str(order.id)
    assert [event["to_status"] for event in detail["events"]] == ["queued"]
    assert detail["fills"] == []
