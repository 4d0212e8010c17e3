"""Portfolio and market depth in Chromium: buy and see the position and balance move, sell part and see
realised P&L, the book update after an order, the far-through-market warning, the insufficient-balance
refusal, and the notice of an order cancelled while the person is on another page.

Live server with the embedded simulator, a real Celery worker, and a thread standing in for beat.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from beat_support import reconciling_every
from django.utils import timezone
from playwright.sync_api import expect

from orders.models import Fill, Order
from orders.services.cancel import order_cancel_request
from parsec.sim.catalogue import MARKET_SEEDS, price_bucket, reference_price
from portfolio.pnl import Trade, position_pnl
from web.portfolio_pages import _signed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FROZEN_BUCKET_SECONDS = 10**9  # one price for the whole test


@pytest.fixture
def beat(celery_worker) -> Iterator[None]:
    """Reconciles every half second, as beat and the reconciliation queue would."""
    with reconciling_every(0.5):
        yield


@pytest.fixture
def market(parsec_sim, settings) -> tuple[str, Decimal]:
    """A Kalshi market and its Yes price, fixed for the test and low enough for a far-through buy."""
    settings.PARSEC_SIM_PRICE_BUCKET_SECONDS = FROZEN_BUCKET_SECONDS
    settings.PARSEC_SIM_STARTING_BALANCE_USDC = 1000
    settings.PORTFOLIO_BOOK_CACHE_SECONDS = 0
    bucket = price_bucket_now()
    for seed in MARKET_SEEDS:
        if seed.exchange != "kalshi":
            continue
        price = reference_price(
            exchange="kalshi", market_id=seed.market_id, bucket=bucket, seed=settings.PARSEC_SIM_SEED
        )
        if Decimal("0.10") <= price <= Decimal("0.80"):
            return seed.market_id, price
    raise AssertionError("no Kalshi market priced between 0.10 and 0.80")


def price_bucket_now() -> int:
    from datetime import UTC, datetime

    return price_bucket(datetime.now(tz=UTC), FROZEN_BUCKET_SECONDS)


def sign_in(page, site: str) -> None:
    page.goto(site + "/")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("#account-ready")).to_be_visible(timeout=30_000)


def fill_ticket(page, *, side: str, price: str, size: str) -> None:
    page.get_by_label("Sell" if side == "sell" else "Buy", exact=True).check()
    page.get_by_label("Limit price").fill(price)
    page.get_by_label("Size").fill(size)


def wait_for_order(count: int, status: str) -> Order:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        orders = list(Order.objects.order_by("created_at"))
        if len(orders) >= count and orders[count - 1].status == status and orders[count - 1].settled_at:
            return orders[count - 1]
        time.sleep(0.2)
    raise AssertionError(
        f"order {count} did not become {status}: {[(o.status, o.settled_at) for o in orders]}"
    )


def test_a_web_user_buys_sells_part_and_watches_portfolio_book_and_notices(
    site, market, celery_worker, beat, page, screenshot
):
    market_id, yes_price = market
    sign_in(page, site)

    page.goto(site + "/portfolio")
    expect(page.locator("#portfolio-empty")).to_contain_text("You do not hold anything yet")
    expect(page.locator('[data-balance="kalshi"]')).to_have_text("1000.00 USDC")

    page.goto(f"{site}/markets/kalshi/{market_id}")
    expect(page.locator('[data-outcome-price="Yes"] .price')).to_have_text(str(yes_price))
    expect(page.locator('[data-outcome-price="No"] .price')).to_have_text(str(1 - yes_price))
    screenshot(page, "market")

    # Far through the market: said before the click.
    fill_ticket(page, side="buy", price="0.95", size="5")
    expect(page.locator("#far-through-warning")).to_contain_text(f"far through the market at {yes_price}")
    expect(page.locator("#expected-fill-text")).to_contain_text(
        f"Expected fill now: 5 at an average {yes_price}"
    )

    # More than the balance can pay: refused on the page, nothing placed.
    fill_ticket(page, side="buy", price=str(yes_price), size="9000")
    expect(page.locator("#balance-refusal")).to_contain_text("cannot pay this order")
    page.get_by_role("button", name="Place order").click()
    expect(page.locator("#ticket-errors")).to_contain_text("The order was not placed")
    assert Order.objects.count() == 0

    # Buy at the market: the position and the balance change.
    fill_ticket(page, side="buy", price=str(yes_price), size="10")
    expect(page.locator("#expected-total")).to_contain_text("Total cost")
    expect(page.locator("#balance-refusal")).to_be_hidden()
    expect(page.locator("#far-through-warning")).to_be_hidden()
    page.get_by_role("button", name="Place order").click()
    bought = wait_for_order(1, Order.Status.FILLED)
    buy_fill = Fill.objects.get(order=bought)
    page.goto(site + "/portfolio")
    expect(page.locator('tr[data-position="Yes"] [data-field="size"]')).to_have_text("10")
    paid = buy_fill.price * 10 + buy_fill.fee
    expect(page.locator('[data-balance="kalshi"]')).to_have_text(
        f"{(Decimal(1000) - paid).quantize(Decimal('0.01'), rounding='ROUND_FLOOR')} USDC"
    )

    # Sell part: realised P&L shows.
    page.goto(f"{site}/markets/kalshi/{market_id}")
    fill_ticket(page, side="sell", price="0.01", size="4")
    page.get_by_role("button", name="Place order").click()
    sold = wait_for_order(2, Order.Status.FILLED)
    sell_fill = Fill.objects.get(order=sold)
    pnl = position_pnl(
        [
            Trade("buy", buy_fill.price, buy_fill.size, buy_fill.fee),
            Trade("sell", sell_fill.price, sell_fill.size, sell_fill.fee),
        ],
        current_price=yes_price,
    )
    page.goto(site + "/portfolio")
    expect(page.locator('tr[data-position="Yes"] [data-field="size"]')).to_have_text("6")
    expect(page.locator('tr[data-position="Yes"] [data-field="realised"]')).to_have_text(
        _signed(pnl.realised)
    )
    screenshot(page, "portfolio")

    # The book updates after a resting order.
    page.goto(f"{site}/markets/kalshi/{market_id}")
    bids = page.locator('[data-book="Yes"] [data-levels="bids"]')
    expect(bids).not_to_contain_text("0.02")
    fill_ticket(page, side="buy", price="0.02", size="7")
    page.get_by_role("button", name="Place order").click()
    expect(bids.locator("tr", has_text="0.02")).to_contain_text("7", timeout=20_000)
    deadline = time.monotonic() + 20
    while not Order.objects.filter(status=Order.Status.OPEN).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    resting = Order.objects.get(status=Order.Status.OPEN)

    # Cancelled while the person is on another page: a notice says so there.
    page.goto(site + "/portfolio")
    expect(page.locator("#order-notices")).to_be_attached()
    order_cancel_request(order=resting, now=timezone.now())
    expect(page.locator("#order-notices")).to_contain_text("was cancelled", timeout=30_000)
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "portfolio-phone")
