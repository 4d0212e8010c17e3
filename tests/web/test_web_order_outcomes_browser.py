"""In Chromium: the ticket prices the outcome chosen, and the orders table says how each order ended."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from factories import make_fee_authorization
from playwright.sync_api import expect

from orders.models import Fill, Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

S = Order.Status
PLACED = datetime(2026, 3, 2, 9, 8, 7, tzinfo=UTC)
DEADLINE = datetime(2026, 3, 2, 9, 18, 7, tzinfo=UTC)


@pytest.fixture
def signed_in(chromium, site, trader) -> Iterator[Any]:
    """A desktop page signed in as the trader (its session cookie), with no wallet needed."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(15_000)
    trader.client.get("/orders")  # the session exists; this also sets the CSRF cookie
    context.add_cookies(
        [{"name": name, "value": morsel.value, "url": site} for name, morsel in trader.client.cookies.items()]
    )
    page = context.new_page()
    yield page
    context.close()


def test_prices_are_complemented_exactly_in_the_browser(signed_in, site):
    signed_in.goto(site + "/orders")
    results = signed_in.evaluate(
        """async () => {
          const { complementPrice, outcomePrice } = await import("/static/web/prices.js");
          const market = { outcomes: ["Yes", "No"], price: "0.82", outcome_prices: null };
          const padded = { outcomes: ["Yes", "No"], price: "0.80", outcome_prices: null };
          return {
            complements: ["0.82", "0.575", "0.1", "0.0001", "1", "0.5"].map(complementPrice),
            no: outcomePrice(market, "No"),
            yes: outcomePrice(market, "Yes"),
            padded: [outcomePrice(padded, "Yes"), outcomePrice(padded, "No")],
            own: outcomePrice({ ...market, outcome_prices: { Yes: "0.82", No: "0.19" } }, "No"),
            other: outcomePrice({ outcomes: ["A", "B"], price: "0.3" }, "B"),
          };
        }"""
    )
    assert results == {
        "complements": ["0.18", "0.425", "0.9", "0.9999", "0", "0.5"],
        "no": "0.18",  # float subtraction would show 0.18000000000000005
        "yes": "0.82",
        "padded": ["0.8", "0.2"],  # the same figures the server writes (trailing zeros dropped)
        "own": "0.19",
        "other": None,
    }


def test_the_ticket_shows_and_prefills_the_price_of_the_outcome_chosen(
    signed_in, site, parsec_sim, screenshot
):
    signed_in.goto(site + "/trade?exchange=kalshi")
    config = json.loads(signed_in.locator("#ticket-config").text_content())
    market_id = signed_in.get_by_label("Market").input_value()
    market = next(item for item in config["markets"] if item["market_id"] == market_id)
    assert market["outcomes"] == ["Yes", "No"]
    assert market["price"] is not None
    own = market.get("outcome_prices") or {}
    yes_price = own.get("Yes") or f"{Decimal(market['price']).normalize():f}"
    no_price = own.get("No") or f"{(Decimal(1) - Decimal(market['price'])).normalize():f}"
    price = signed_in.get_by_label("Limit price")
    expect(signed_in.locator("#hint-market")).to_have_text(f"Current price of Yes: {yes_price}")

    signed_in.get_by_label("Outcome").select_option("No")

    expect(signed_in.locator("#hint-market")).to_have_text(f"Current price of No: {no_price}")
    expect(price).to_have_value(no_price)
    screenshot(signed_in, "ticket-no-price")

    # A price the person typed is theirs: switching the outcome changes the hint, not their price. It
    # must differ from the pre-filled one, or it would be the page's again (0.33 is No's price at times).
    typed = next(
        candidate for candidate in ("0.33", "0.34", "0.35") if candidate not in {yes_price, no_price}
    )
    price.fill(typed)
    signed_in.get_by_label("Outcome").select_option("Yes")
    expect(signed_in.locator("#hint-market")).to_have_text(f"Current price of Yes: {yes_price}")
    expect(price).to_have_value(typed)


def test_the_orders_table_says_why_orders_ended_and_shows_fills_and_dates(
    signed_in, site, trader, screenshot
):
    customer = trader.customer

    def order(status: str, **fields) -> Order:
        values = {
            "exchange": "kalshi",
            "market_id": "KXFEDDECISION-26JAN-C25",
            "outcome": "Yes",
            "side": "buy",
        }
        values.update(price=Decimal("0.55"), size=Decimal("10"), **fields)
        return Order.objects.create(
            partner=customer.partner,
            customer=customer,
            status=status,
            created_at=PLACED,
            updated_at=PLACED,
            **values,
        )

    authorization = make_fee_authorization(
        customer=customer, fee_amount=10_000, deadline=DEADLINE, state="expired"
    )
    unsigned = order(
        S.FAILED,
        exchange="polymarket",
        fee_authorization=authorization,
        last_error_code="fee_deadline_passed",
    )
    rejected = order(
        S.REJECTED,
        last_error_code="price_out_of_range",
        last_error_message="Price 0.995 is above the market's maximum of 0.99.",
    )
    filled = order(S.FILLED, filled=Decimal("10"))
    for index, (fill_price, size) in enumerate([("0.52", "4"), ("0.55", "6")]):
        Fill.objects.create(
            fill_id=f"browser-fill-{index}",
            order=filled,
            price=Decimal(fill_price),
            size=Decimal(size),
            created_at=timezone.now(),
            recorded_at=timezone.now(),
        )

    signed_in.goto(site + "/orders")

    def row(placed: Order):
        return signed_in.locator(f'#orders-table tr[data-order-id="{placed.id}"]')

    expect(row(unsigned).locator("[data-status-detail]")).to_have_text(
        "The fee was not signed before its deadline (02 Mar 2026, 09:18:07 UTC), so the order was never sent."
    )
    expect(row(rejected).locator("[data-status-detail]")).to_have_text(
        "Rejected by the exchange: Price 0.995 is above the market's maximum of 0.99."
    )
    expect(row(filled).locator("[data-average-price]")).to_have_text("at 0.538 on average")
    expect(row(filled).locator("[data-filled]")).to_have_text("10 of 10")
    # Placed on another day than today: the date and the seconds are both there (en-GB, UTC).
    expect(row(filled).locator("time")).to_have_text("2 Mar 2026, 09:08:07")
    screenshot(signed_in, "orders-outcomes")
