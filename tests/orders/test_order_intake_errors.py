"""What order intake says to a partner's mistakes, and how loudly they are logged."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone
from orders_support import order_body

from customers.models import Customer
from orders import idempotency
from orders.models import Order
from parsec.client import encode_json

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("name", "value"),
    [("order_type", "ioc"), ("expiration", 1_900_000_000)],
    ids=["order_type", "expiration"],
)
def test_a_params_field_sent_at_the_top_level_says_it_belongs_in_params(trader, enqueued, name, value):
    response = trader.post_order(order_body(**{name: value}))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request"
    assert f'"params": {{"{name}"' in body["error"]
    assert "inside params" in body["error"]
    assert list(body["fields"]) == [name]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("exchange", "body"),
    [
        ("kalshi", order_body(params={"order_type": "fok"})),  # Parsec's 501 matrix
        ("opinion", order_body()),  # a data-only exchange
    ],
    ids=["order-type", "data-only-exchange"],
)
def test_a_501_for_an_unsupported_combination_is_not_logged_as_a_server_error(
    trader, enqueued, caplog, exchange, body
):
    with caplog.at_level(logging.INFO):
        response = trader.post_order(body, exchange=exchange)

    assert response.status_code == 501
    assert response.json()["code"] == "not_supported"
    assert [r.levelname for r in caplog.records if r.name == "django.request"] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_4xx_refusal_of_an_order_is_never_logged_at_error(trader, enqueued, caplog):
    with caplog.at_level(logging.INFO):
        for body in (order_body(price="2"), order_body(order_type="gtc"), {"nope": 1}):
            assert 400 <= trader.post_order(body).status_code < 500
        assert trader.post_order(order_body(), customer_id="").status_code == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_server_error_is_still_logged_at_error(caplog):
    from builder_platform.logs import ClientErrorLevelFilter

    record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Boom", None, None)
    record.status_code = 500
    ClientErrorLevelFilter().filter(record)
    assert record.levelname == "ERROR"


def test_the_409_for_a_key_in_flight_carries_retry_after(trader, enqueued):
    fingerprint = idempotency.request_fingerprint(
        exchange="kalshi", customer_id=str(trader.customer.id), body=encode_json(order_body()).encode()
    )
    idempotency.idempotency_key_claim(
        partner=trader.partner, key="busy", fingerprint=fingerprint, now=timezone.now()
    )

    response = trader.post_order(order_body(), key="busy")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"
    assert int(response["Retry-After"]) >= 1


def test_a_disabled_customers_new_orders_are_refused_with_customer_disabled(trader, enqueued):
    Customer.objects.filter(pk=trader.customer.pk).update(status=Customer.Status.DISABLED)

    response = trader.post_order(order_body())

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "customer_disabled"
    assert f"PATCH /api/v1/customers/{trader.customer.id}" in body["error"]
    assert not Order.objects.exists()
