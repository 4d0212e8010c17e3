"""The order JSON endpoints behind the pages: sign-in and CSRF required, one customer's orders only,
the partner API's own validation with errors beside the ticket's fields, fees signed and verified."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from eth_account import Account

from fees.models import FeeAuthorization
from orders.models import Order

S = Order.Status


def make_order(customer, *, status: str = S.OPEN, **fields) -> Order:
    now = timezone.now()
    values = {
        "exchange": "kalshi",
        "market_id": "KXFEDDECISION-26JAN-C25",
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.55"),
        "size": Decimal("10"),
        **fields,
    }
    return Order.objects.create(
        partner=customer.partner, customer=customer, status=status, created_at=now, updated_at=now, **values
    )


def ticket(**fields) -> dict:
    return {
        "exchange": "kalshi",
        "market_id": "KXFEDDECISION-26JAN-C25",
        "outcome": "Yes",
        "side": "buy",
        "price": "0.55",
        "size": "10",
        "order_type": "gtc",
        **fields,
    }


# --- Authentication, CSRF, ownership ---------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/app/orders"),
        ("post", "/app/orders"),
        ("get", "/app/orders/00000000-0000-0000-0000-000000000000"),
        ("post", "/app/orders/00000000-0000-0000-0000-000000000000/cancel"),
        ("post", "/app/orders/00000000-0000-0000-0000-000000000000/fee-authorization"),
        ("get", "/app/quote?exchange=kalshi&price=0.5&size=1"),
    ],
)
def test_order_endpoints_answer_401_to_visitors_who_are_not_signed_in(method, path):
    response = getattr(Client(), method)(path, content_type="application/json")

    assert response.status_code == 401
    assert response.json()["code"] == "not_signed_in"


@pytest.mark.django_db
def test_placing_and_cancelling_without_the_csrf_token_are_refused(trader):
    order = make_order(trader.customer, status=S.QUEUED)

    placed = trader.post("/app/orders", ticket(), csrf=False)
    cancelled = trader.post(f"/app/orders/{order.id}/cancel", csrf=False)

    assert placed.status_code == 403
    assert cancelled.status_code == 403
    assert Order.objects.count() == 1
    order.refresh_from_db()
    assert order.status == S.QUEUED


@pytest.mark.django_db
def test_the_list_holds_only_the_signed_in_customers_orders_newest_first(trader, make_web_trader):
    older = make_order(trader.customer)
    newer = make_order(trader.customer, status=S.FILLED, filled=Decimal("10"))
    make_order(make_web_trader("bob").customer)

    body = trader.client.get("/app/orders").json()

    assert [row["id"] for row in body["orders"]] == [str(newer.id), str(older.id)]
    assert body["orders"][0]["status"] == "filled"
    assert body["orders"][0]["filled"] == "10"
    assert body["orders"][0]["can_cancel"] is False
    assert body["orders"][1]["can_cancel"] is True


@pytest.mark.django_db
def test_another_customers_order_can_be_neither_read_nor_cancelled(trader, make_web_trader):
    theirs = make_order(make_web_trader("bob").customer, status=S.QUEUED)

    read = trader.client.get(f"/app/orders/{theirs.id}")
    cancel = trader.post(f"/app/orders/{theirs.id}/cancel")
    sign = trader.post(f"/app/orders/{theirs.id}/fee-authorization", {"signature": "0x" + "11" * 65})

    assert [read.status_code, cancel.status_code, sign.status_code] == [404, 404, 404]
    theirs.refresh_from_db()
    assert theirs.status == S.QUEUED


@pytest.mark.django_db
def test_the_list_reads_a_fixed_number_of_queries(trader, django_assert_max_num_queries):
    for _ in range(20):
        make_order(trader.customer)

    # session, customer, its wallets, the orders with their fee authorizations, their fills
    with django_assert_max_num_queries(5):
        response = trader.client.get("/app/orders")

    assert len(response.json()["orders"]) == 20


@pytest.mark.django_db
def test_an_order_never_sent_is_cancelled_at_once(trader):
    order = make_order(trader.customer, status=S.QUEUED)

    response = trader.post(f"/app/orders/{order.id}/cancel")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    order.refresh_from_db()
    assert order.status == S.CANCELLED


@pytest.mark.django_db
def test_a_filled_order_cannot_be_cancelled(trader):
    order = make_order(trader.customer, status=S.FILLED, filled=Decimal("10"))

    response = trader.post(f"/app/orders/{order.id}/cancel")

    assert response.status_code == 409
    assert response.json()["code"] == "order_final"


# --- Validation: the partner API's rules, shown beside the ticket's fields ---------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"price": "1.5"}, "price", "between 0 and 1"),
        ({"price": "abc"}, "price", "as a number"),
        ({"size": ""}, "size", "Enter the size"),
        ({"size": "-3"}, "size", "greater than 0"),
        ({"side": "hold"}, "side", "buy"),
        ({"order_type": "fok"}, "order_type", "not supported on kalshi"),
        ({"exchange": "polymarket", "order_type": "gtd"}, "expiration", "date and time"),
        ({"exchange": "polymarket", "order_type": "gtd", "expiration": 1}, "expiration", "60 seconds"),
        ({"market_id": ""}, "market_id", "required"),
    ],
)
def test_a_bad_ticket_is_refused_with_the_error_beside_its_field(trader, fields, field, words):
    response = trader.post("/app/orders", ticket(**fields))

    assert response.status_code in (400, 501), response.content
    body = response.json()
    assert set(body["fields"]) == {field}
    assert words in body["fields"][field]
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_a_customer_still_being_provisioned_is_told_to_wait(make_web_trader):
    waiting = make_web_trader("carol", active=False)

    response = waiting.post("/app/orders", ticket())

    assert response.status_code == 409
    assert response.json()["error"].startswith("Your trading account is still being set up")
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"outcome": "Maybe"}, 400, "outcome"),
        ({"outcome": "yes"}, 400, "outcome"),
        ({"price": "0.555"}, 400, "price"),  # off Kalshi's 0.01 tick
        ({"size": "2.5"}, 400, "size"),  # Kalshi trades whole contracts
        ({"market_id": "KXNOPE-00"}, 404, "market_id"),
    ],
)
def test_a_ticket_the_market_would_refuse_is_refused_at_once_beside_its_field(
    trader, parsec_sim, fields, status, field
):
    response = trader.post("/app/orders", ticket(**fields))

    assert response.status_code == status, response.content
    assert set(response.json()["fields"]) == {field}
    assert not Order.objects.exists()


# --- Through the simulator: fee quote, fee authorization --------------------------------------------


@pytest.fixture
def polymarket_market(parsec_sim) -> str:
    return parsec_sim.list_markets(exchanges=["polymarket"], limit=1).markets[0].market_id


@pytest.mark.django_db(transaction=True)
def test_the_quote_states_the_builder_fee_from_the_escrow_config(trader, parsec_sim, settings):
    response = trader.client.get("/app/quote?exchange=polymarket&price=0.55&size=100")

    assert response.status_code == 200
    body = response.json()
    # 100 @ 0.55 at 25 bps = 137500 base units (Parsec's own example)
    assert (body["fee_bps"], body["fee_amount"]) == (settings.PARSEC_SIM_FEE_BPS, "137500")
    assert "0.1375 USDC" in body["summary"]


@pytest.mark.django_db
def test_the_quote_says_kalshi_orders_carry_no_fee(trader):
    body = trader.client.get("/app/quote?exchange=kalshi&price=0.55&size=100").json()

    assert body["fee_amount"] == "0"
    assert "Polymarket orders only" in body["summary"]


@pytest.mark.django_db(transaction=True)
def test_a_polymarket_order_waits_for_the_fee_signature_then_is_queued(trader, parsec_sim, polymarket_market):
    placed = trader.post(
        "/app/orders", ticket(exchange="polymarket", market_id=polymarket_market, price="0.01")
    )

    assert placed.status_code == 201, placed.content
    order = placed.json()
    assert (order["status"], order["can_sign_fee"], order["fee"]["state"]) == (
        "awaiting_fee_auth",
        True,
        "requested",
    )
    request = order["fee_request"]
    assert request["signer"] == trader.account.address
    assert request["escrow_contract"] == request["typed_data"]["domain"]["verifyingContract"]
    assert request["deadline"] > time.time()  # unix seconds, as the partner API answers it
    assert request["fee_amount"] == order["fee"]["amount"]

    wrong = Account.sign_typed_data(Account.create().key, full_message=request["typed_data"])
    refused = trader.post(order["urls"]["sign_fee"], {"signature": "0x" + bytes(wrong.signature).hex()})
    assert refused.status_code == 400
    assert refused.json()["code"] == "signer_mismatch"
    assert Order.objects.get(id=order["id"]).status == S.AWAITING_FEE_AUTH

    signed = Account.sign_typed_data(trader.account.key, full_message=request["typed_data"])
    accepted = trader.post(order["urls"]["sign_fee"], {"signature": "0x" + bytes(signed.signature).hex()})
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "queued"
    assert FeeAuthorization.objects.get().state == FeeAuthorization.State.SIGNED


@pytest.mark.django_db(transaction=True)
def test_the_fee_authorizations_page_lists_what_was_signed(trader, parsec_sim, polymarket_market):
    placed = trader.post(
        "/app/orders", ticket(exchange="polymarket", market_id=polymarket_market, price="0.01")
    )
    typed_data = placed.json()["fee_request"]["typed_data"]
    signed = Account.sign_typed_data(trader.account.key, full_message=typed_data)
    trader.post(placed.json()["urls"]["sign_fee"], {"signature": "0x" + bytes(signed.signature).hex()})

    page = trader.client.get("/fee-authorizations").content.decode()

    authorization = FeeAuthorization.objects.get()
    assert authorization.escrow_order_id in page
    assert authorization.verifying_contract in page
    assert "Signed" in page
