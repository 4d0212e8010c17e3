"""The portfolio, market, order-detail and all-orders pages, through Django's test client."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.utils import timezone

from orders.models import Fill, Order, OrderEvent
from web.portfolio_pages import event_sentence


def _order(
    trader, *, side="buy", size="10", price="0.40", status=Order.Status.FILLED, exchange="kalshi", **fields
):
    now = timezone.now()
    return Order.objects.create(
        partner=trader.customer.partner,
        customer=trader.customer,
        exchange=exchange,
        market_id=fields.pop("market_id", "KXFEDDECISION-26JAN-C25"),
        outcome="Yes",
        side=side,
        price=Decimal(price),
        size=Decimal(size),
        status=status,
        filled=Decimal(size) if status == Order.Status.FILLED else Decimal(0),
        created_at=fields.pop("created_at", now),
        updated_at=now,
        **fields,
    )


def _fill(order, *, price: str, size: str, fee: str = "0"):
    now = timezone.now()
    return Fill.objects.create(
        fill_id=f"fill-{uuid.uuid4().hex}",
        order=order,
        price=Decimal(price),
        size=Decimal(size),
        fee=Decimal(fee),
        created_at=now,
        recorded_at=now,
    )


def test_a_portfolio_without_fills_says_how_to_start(trader):
    page = trader.client.get("/portfolio")

    assert page.status_code == 200
    html = page.content.decode()
    assert "You do not hold anything yet" in html
    assert 'href="/markets"' in html


def test_the_portfolio_shows_each_position_with_realised_pnl(trader):
    bought = _order(trader, size="10", price="0.40")
    _fill(bought, price="0.40", size="10")
    sold = _order(trader, side="sell", size="4", price="0.50")
    _fill(sold, price="0.50", size="4")

    html = trader.client.get("/portfolio").content.decode()

    assert 'data-field="size">6<' in html
    assert 'data-field="realised">+0.40<' in html  # 4 x (0.50 - 0.40)
    assert 'data-total="net_cost">2.00 USDC' in html  # 4.00 paid, 2.00 received


def test_an_order_page_shows_fills_average_price_and_events_and_is_private(trader, make_web_trader):
    order = _order(trader, size="10", price="0.40")
    _fill(order, price="0.38", size="4")
    _fill(order, price="0.40", size="6")
    now = timezone.now()
    OrderEvent.objects.create(
        order=order, from_status="", to_status="queued", cause="created", created_at=now
    )
    OrderEvent.objects.create(
        order=order, from_status="open", to_status="filled", cause="reconciled", created_at=now
    )

    html = trader.client.get(f"/orders/{order.id}").content.decode()
    other = make_web_trader("bob").client.get(f"/orders/{order.id}")

    assert 'data-field="average_price">0.392' in html  # (4 x 0.38 + 6 x 0.40) / 10
    assert "You placed the order. It is queued to be sent to the exchange." in html
    assert "It has filled completely." in html
    assert "This order carries no builder fee" in html
    assert other.status_code == 404


def test_all_my_orders_filters_by_status_and_exchange_and_pages(trader):
    for index in range(25):
        _order(trader, status=Order.Status.CANCELLED if index % 5 == 0 else Order.Status.FILLED)
    _order(trader, exchange="polymarket", market_id="0xabc")

    first = trader.client.get("/orders/all").content.decode()
    second = trader.client.get("/orders/all?page=2").content.decode()
    cancelled = trader.client.get("/orders/all?status=cancelled").content.decode()
    polymarket = trader.client.get("/orders/all?exchange=polymarket").content.decode()

    assert first.count("data-order-id=") == 20
    assert second.count("data-order-id=") == 6
    assert 'rel="next"' in first
    assert 'rel="prev"' in second
    assert cancelled.count("data-order-id=") == 5
    assert polymarket.count("data-order-id=") == 1


def test_events_read_as_sentences():
    assert event_sentence("submitting", "open", "parsec_accepted") == "It is open on the exchange's book."
    assert event_sentence("open", "open", "something_new") == "Update from the exchange (something new)."


def test_the_expected_fill_and_book_endpoints_refuse_bad_input_before_asking_parsec(trader):
    for query in (
        "exchange=nasdaq&market_id=X",
        "exchange=kalshi",
    ):
        response = trader.client.get(f"/app/expected-fill?{query}")
        assert (response.status_code, response.json()["code"]) == (400, "bad_request")
        response = trader.client.get(f"/app/orderbook?{query}")
        assert (response.status_code, response.json()["code"]) == (400, "bad_request")


def test_the_portfolio_pages_need_a_signed_in_customer(db, client):
    for path in ("/portfolio", "/orders/all", f"/orders/{uuid.uuid4()}", "/markets/kalshi/X"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/?next=")
