"""The orders REST API: Parsec's body and errors, exact numbers, listing, detail, cancel, exchanges."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from orders_support import KALSHI_MARKET, make_trader, order_body, place, polymarket_market

from customers.models import Customer, Wallet
from orders.errors import OrderError
from orders.models import IdempotencyKey, Order, OrderEvent
from orders.services import deadlines, fee_authorization, settlement, sweep
from parsec.client import decode_json

pytestmark = pytest.mark.django_db

S = Order.Status
URL = "/api/v1/orders"


def test_a_fee_less_order_is_created_queued_with_parsecs_fields(trader, enqueued):
    # Kalshi trades whole contracts: a size of 100.50 would be refused at intake.
    response = trader.post_order(order_body(price=Decimal("0.65"), size=Decimal("100")))

    assert response.status_code == 201, response.content
    body = decode_json(response.content)
    order = Order.objects.get()
    assert body["id"] == str(order.id)
    assert body["status"] == "queued"
    assert body["exchange"] == "kalshi"
    assert body["customer_id"] == str(trader.customer.id)
    assert (body["price"], body["size"], body["filled"]) == (Decimal("0.65"), 100, 0)
    assert body["fee"] is None
    assert body["fee_authorization"] is None
    assert body["parsec_order_id"] is None
    assert set(body) >= {"market_id", "outcome", "side", "created_at", "updated_at", "order_type"}
    # Numbers are JSON numbers written with exactly their digits, never through a float.
    assert b'"price":0.65,' in response.content
    assert b'"size":100,' in response.content
    assert enqueued == [("orders.submit", (str(order.id),))]
    assert list(OrderEvent.objects.values_list("to_status", "cause")) == [("queued", "created")]


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"price": Decimal("1")}, 400, "bad_request", "price"),
        ({"price": Decimal("0")}, 400, "bad_request", "price"),
        ({"size": Decimal("-1")}, 400, "bad_request", "size"),
        ({"side": "hold"}, 400, "bad_request", "side"),
        ({"price": None}, 400, "missing_parameter", "price"),
        (
            {"params": {"order_type": "gtd", "expiration": "9999999999"}},
            501,
            "not_supported",
            "params.order_type",
        ),
        ({"params": {"order_type": "fok"}}, 501, "not_supported", "params.order_type"),
        ({"params": {"order_type": "day"}}, 400, "bad_request", "params.order_type"),
        ({"price": Decimal("0.1234567")}, 400, "bad_request", "price"),  # finer than we store exactly
        ({"size": Decimal("1.0000001")}, 400, "bad_request", "size"),
        ({"size": Decimal("1000000000")}, 400, "bad_request", "size"),
        ({"fee_auth": {"order_id": "0x" + "0" * 64}}, 400, "bad_request", "fee_auth"),
        ({"payer_address": "0x" + "1" * 40}, 400, "bad_request", "payer_address"),
        ({"affiliate": "0x" + "1" * 40}, 400, "bad_request", "affiliate"),
        ({"surprise": 1}, 400, "bad_request", "surprise"),
    ],
)
def test_invalid_orders_are_refused_as_parsec_would_and_nothing_is_stored(
    trader, enqueued, changes, status, code, field
):
    response = trader.post_order(order_body(**changes))

    assert response.status_code == status, response.content
    error = response.json()
    assert error["code"] == code
    assert field in error["fields"]
    assert Order.objects.count() == 0
    assert enqueued == []


def test_an_order_on_a_data_only_exchange_answers_501(trader, enqueued):
    response = trader.post_order(order_body("eth-above-5000-june"), exchange="limitless")
    assert response.status_code == 501
    assert response.json()["code"] == "not_supported"


def test_an_unknown_exchange_answers_parsecs_404(trader):
    response = trader.post_order(order_body(), exchange="nasdaq")
    assert response.status_code == 404
    assert response.json()["code"] == "exchange_not_found"


def test_a_body_that_is_not_json_is_a_400(trader):
    response = trader.client.post(
        f"{URL}?exchange=kalshi",
        data=b"{nope",
        content_type="application/json",
        HTTP_X_BUILDER_CUSTOMER_ID=str(trader.customer.id),
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


def test_the_customer_must_be_named_must_be_ours_and_must_be_ready(trader, enqueued):
    missing = trader.post_order(order_body(), customer_id="")
    assert missing.status_code == 400
    assert missing.json()["code"] == "missing_parameter"

    other = make_trader()
    foreign = trader.post_order(order_body(), customer_id=str(other.customer.id))
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "not_found"

    # A disabled customer has its own code (tests/customers/test_customer_updates.py).
    Customer.objects.filter(pk=trader.customer.pk).update(status=Customer.Status.PROVISIONING)
    Wallet.objects.filter(customer=trader.customer, role=Wallet.Role.PAYER).update(replaced_at=timezone.now())
    not_ready = trader.post_order(order_body())
    assert not_ready.status_code == 409
    error = not_ready.json()
    assert error["code"] == "customer_not_ready"
    assert "provisioning" in error["error"]
    assert "payer" in error["error"]
    assert Order.objects.count() == 0


def test_the_list_is_scoped_filtered_and_paginated_with_a_fixed_number_of_queries(
    trader, enqueued, django_assert_num_queries
):
    for index in range(7):
        place(trader, price=Decimal(index + 1) / 100)
    place(trader, market_id="KXGDP-26Q2-3")
    make_trader_orders = make_trader()
    place(make_trader_orders)  # another partner's order never shows

    trader.client.get(URL)  # the key's last_used_at is written on its first use only
    for limit in (1, 2, 50):
        # The key lookup and one query for the page, whatever its size.
        with django_assert_num_queries(2):
            response = trader.client.get(URL, {"limit": limit})
        assert response.status_code == 200
        assert len(response.json()["results"]) == min(limit, 8)
    seen, cursor = [], None
    while True:
        page = trader.client.get(URL, {"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in page["results"]]
        if not page["next"]:
            break
        cursor = page["next"].split("cursor=")[1].split("&")[0]
    assert len(seen) == len(set(seen)) == 8

    by_market = trader.client.get(URL, {"market_id": "KXGDP-26Q2-3"}).json()["results"]
    assert [item["market_id"] for item in by_market] == ["KXGDP-26Q2-3"]
    by_status = trader.client.get(URL, {"status": "filled"}).json()["results"]
    assert by_status == []
    by_customer = trader.client.get(URL, {"customer": str(trader.customer.id)}).json()["results"]
    assert len(by_customer) == 8
    bad = trader.client.get(URL, {"status": "exploded"})
    assert bad.status_code == 400
    assert bad.json()["code"] == "validation_error"


def test_the_detail_carries_fills_events_fee_axis_and_last_error(trader, enqueued):
    order = place(trader)
    Order.objects.filter(pk=order.pk).update(last_error_code="service_unavailable", last_error_message="down")

    body = trader.client.get(f"{URL}/{order.id}").json()

    assert body["id"] == str(order.id)
    assert body["fills"] == []
    assert [event["to_status"] for event in body["events"]] == ["queued"]
    assert body["last_error"] == {"code": "service_unavailable", "message": "down"}


def test_cancelling_an_order_never_sent_cancels_it_at_once(trader, enqueued):
    order = place(trader)

    response = trader.client.delete(f"{URL}/{order.id}")

    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    order.refresh_from_db()
    assert order.status == S.CANCELLED
    assert order.cancel_requested_at is not None
    again = trader.client.delete(f"{URL}/{order.id}")
    assert again.status_code == 409
    assert again.json()["code"] == "order_final"


def test_cancelling_a_live_order_goes_through_the_cancel_task(trader, enqueued):
    order = place(trader)
    Order.objects.filter(pk=order.pk).update(status=S.OPEN, parsec_order_id="ord_live")
    enqueued.clear()

    response = trader.client.delete(f"{URL}/{order.id}")

    assert response.status_code == 202
    assert response.json()["status"] == "open"
    assert response.json()["cancel_requested_at"]
    assert enqueued == [("orders.cancel", (str(order.id),))]


def test_a_final_order_cannot_be_cancelled(trader, enqueued):
    order = place(trader)
    settlement.order_fail(order_id=order.id, from_statuses=[S.QUEUED], cause="test", now=timezone.now())
    response = trader.client.delete(f"{URL}/{order.id}")
    assert response.status_code == 409
    assert response.json()["code"] == "order_final"


def test_the_exchanges_endpoint_lists_capabilities_and_order_types(trader):
    body = trader.client.get("/api/v1/exchanges").json()
    by_id = {item["id"]: item for item in body}
    assert by_id["polymarket"]["order_types"] == ["gtc", "ioc", "fok", "gtd"]
    assert by_id["kalshi"]["order_types"] == ["gtc", "ioc"]
    assert by_id["kalshi"]["has"]["create_order"] is True
    assert by_id["limitless"]["has"]["create_order"] is False
    assert by_id["polymarket"]["fee_escrow"] is True


def test_the_markets_endpoint_passes_parsecs_markets_through(sim_trader):
    first = sim_trader.client.get("/api/v1/markets", {"exchange": "kalshi", "limit": 2})
    assert first.status_code == 200, first.content
    page = decode_json(first.content)
    assert [market["exchange"] for market in page["markets"]] == ["kalshi", "kalshi"]
    second = decode_json(
        sim_trader.client.get(
            "/api/v1/markets", {"exchange": "kalshi", "cursor": page["next_cursor"]}
        ).content
    )
    assert {market["market_id"] for market in second["markets"]}.isdisjoint(
        {market["market_id"] for market in page["markets"]}
    )
    bad = sim_trader.client.get("/api/v1/markets", {"exchange": "nasdaq"})
    assert bad.status_code == 404
    assert bad.json()["code"] == "exchange_not_found"


def test_a_fee_bearing_order_waits_for_its_signature_then_is_queued(sim_trader, enqueued):
    response = sim_trader.post_order(
        order_body(polymarket_market(), price=Decimal("0.55")), exchange="polymarket"
    )

    assert response.status_code == 201, response.content
    body = decode_json(response.content)
    assert body["status"] == "awaiting_fee_auth"
    authorization = body["fee_authorization"]
    assert set(authorization) == {"typed_data", "fee_amount", "fee_bps", "deadline"}
    assert authorization["typed_data"]["primaryType"] == "PullFee"
    assert int(authorization["fee_amount"]) > 0
    assert enqueued == []

    bad = sim_trader.client.post(
        f"{URL}/{body['id']}/fee-authorization", {"signature": "0x1234"}, format="json"
    )
    assert bad.status_code == 400
    assert Order.objects.get().status == S.AWAITING_FEE_AUTH

    signed = sim_trader.client.post(
        f"{URL}/{body['id']}/fee-authorization",
        {"signature": sim_trader.sign(authorization["typed_data"])},
        format="json",
    )
    assert signed.status_code == 202, signed.content
    assert signed.json()["status"] == "queued"
    assert signed.json()["fee_authorization"] is None
    assert signed.json()["fee"]["state"] == "signed"
    assert enqueued == [("orders.submit", (body["id"],))]

    twice = sim_trader.client.post(
        f"{URL}/{body['id']}/fee-authorization",
        {"signature": sim_trader.sign(authorization["typed_data"])},
        format="json",
    )
    assert twice.status_code == 409


def test_a_signature_after_the_deadline_fails_the_order(sim_trader, enqueued):
    response = sim_trader.post_order(order_body(polymarket_market()), exchange="polymarket")
    body = decode_json(response.content)
    order = Order.objects.get()
    signature = sim_trader.sign(body["fee_authorization"]["typed_data"])
    later = deadlines.fee_deadline(order)

    with pytest.raises(OrderError) as refused:
        fee_authorization.order_fee_authorization_submit(order=order, signature=signature, now=later)

    assert refused.value.code == "fee_authorization_expired"
    order.refresh_from_db()
    assert order.status == S.FAILED
    assert order.fee_authorization.state == "expired"


def test_keys_are_kept_until_old_and_their_order_final(trader, enqueued):
    response = trader.post_order(order_body(), key="keep-me")
    assert response.status_code == 201
    old = timezone.now() + timezone.timedelta(hours=25)

    assert sweep.idempotency_keys_purge(now=old) == 0  # its order is still queued
    order = Order.objects.get()
    settlement.order_fail(order_id=order.id, from_statuses=[S.QUEUED], cause="test", now=timezone.now())
    assert sweep.idempotency_keys_purge(now=timezone.now()) == 0  # too recent
    assert sweep.idempotency_keys_purge(now=old) == 1
    assert not IdempotencyKey.objects.exists()


def test_unknown_ids_and_malformed_ids_are_the_same_404(trader):
    for order_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = trader.client.get(f"{URL}/{order_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_the_kalshi_market_constant_names_a_simulator_market():
    from parsec.sim.catalogue import MARKET_SEEDS

    assert any(seed.market_id == KALSHI_MARKET for seed in MARKET_SEEDS)
