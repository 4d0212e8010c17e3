"""row_insert: the same row as save(force_insert=True), by a fixed statement; save() when signals listen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict
from django.utils import timezone
from factories import make_customer, make_partner

from builder_platform.inserts import row_insert
from customers.models import Customer
from generations.store import generation_current
from orders.models import Order, OrderEvent


def _event(order: Order) -> OrderEvent:
    return OrderEvent(order=order, to_status="queued", cause="created", created_at=order.created_at)


def _order(partner, customer, now) -> Order:
    return Order(
        partner=partner,
        customer=customer,
        exchange="kalshi",
        market_id="KXFEDDECISION-26JAN-C25",
        outcome="Yes",
        side="buy",
        price=Decimal("0.01"),
        size=Decimal("10"),
        status=Order.Status.QUEUED,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )


@pytest.mark.django_db
def test_an_inserted_order_reads_back_as_the_orm_saves_it():
    partner = make_partner()
    customer = make_customer(partner=partner)
    now = timezone.now()
    fast, saved = _order(partner, customer, now), _order(partner, customer, now)

    assert row_insert(fast) is fast
    saved.save(force_insert=True)

    assert not fast._state.adding
    stored_fast, stored_saved = Order.objects.get(pk=fast.pk), Order.objects.get(pk=saved.pk)
    assert {**model_to_dict(stored_fast), "id": None} == {**model_to_dict(stored_saved), "id": None}
    assert stored_fast.created_at == now
    assert stored_fast.filled == Decimal(0)  # the model's defaults
    assert stored_fast.version == 1


@pytest.mark.django_db
def test_a_database_generated_key_is_read_back():
    partner = make_partner()
    order = row_insert(_order(partner, make_customer(partner=partner), timezone.now()))

    first = row_insert(_event(order))
    second = row_insert(_event(order))

    assert isinstance(first.pk, int)
    assert second.pk > first.pk
    assert list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True).order_by("pk")) == [
        first.pk,
        second.pk,
    ]


@pytest.mark.django_db(transaction=True)
def test_a_constraint_violation_raises_and_the_transaction_rolls_back():
    partner = make_partner()
    customer = make_customer(partner=partner)
    order = row_insert(_order(partner, customer, timezone.now()))
    duplicate = _order(partner, customer, timezone.now())
    duplicate.id = order.id

    def both() -> None:
        with transaction.atomic():
            row_insert(_event(order))
            row_insert(duplicate)

    with pytest.raises(IntegrityError):
        both()

    assert Order.objects.count() == 1
    assert not OrderEvent.objects.exists()  # the first INSERT rolled back with the failed one


@pytest.mark.django_db(transaction=True)
def test_a_model_with_save_signals_goes_through_save():
    partner = make_partner()
    before = generation_current()

    customer = row_insert(Customer(partner=partner, external_id="signalled"))

    assert Customer.objects.filter(pk=customer.pk).exists()
    assert generation_current() != before  # the generation's post_save receiver ran
