"""A web user's whole journey in Chromium: sign in, wait for provisioning, trade with a fee, cancel.

Runs against the live server with the embedded simulator and a real Celery worker (provisioning,
submission, cancel); a small thread stands in for celery beat's periodic reconciliation.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from beat_support import reconciling_every
from playwright.sync_api import expect

from orders.models import Order
from parsec.sim.catalogue import MARKET_SEEDS, reference_price

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PRICE_BUCKET_SECONDS = 2
TIMED_ORDERS = 5
RESTING_PRICE = Decimal("0.01")  # the simulator's prices never go below 0.02: such a buy rests forever
CLICK_TO_OPEN_SCRIPT = """
([orderId]) => {
  const row = document.querySelector(`#orders-table tr[data-order-id="${orderId}"]`);
  if (!row || row.dataset.status !== "open") return false;
  window.__openAt = window.__openAt ?? performance.now();
  return true;
}
"""


@pytest.fixture
def beat(celery_worker) -> Iterator[None]:
    """Reconciles every second while the test runs: what beat and the reconciliation queue do."""
    with reconciling_every(1.0):
        yield


@pytest.fixture
def trading_settings(parsec_sim, settings):
    # Prices move every two seconds and a resting order fills in one chunk once the price reaches it,
    # so an order can be seen open first and filled a few seconds later.
    settings.PARSEC_SIM_PRICE_BUCKET_SECONDS = PRICE_BUCKET_SECONDS
    settings.PARSEC_SIM_FILL_CHUNK_FRACTION = "1"
    return settings


def plan_order_that_rests_then_fills(*, seed: int, now: float) -> tuple[str, str, Decimal]:
    """A Polymarket (market, side, price) that will not trade for the next few seconds, then will.

    The simulator's prices are a pure function of (market, time bucket, seed), so the test can read
    them ahead: the limit is just outside every price of the next four buckets (the time it takes to
    sign and submit) and reached by one of the six after.
    """
    first = int(now) // PRICE_BUCKET_SECONDS
    for seed_market in MARKET_SEEDS:
        if seed_market.exchange != "polymarket":
            continue
        prices = [
            reference_price(exchange="polymarket", market_id=seed_market.market_id, bucket=bucket, seed=seed)
            for bucket in range(first, first + 10)
        ]
        soon, later = prices[:4], prices[4:]
        buy_limit = min(soon) - Decimal("0.01")
        if min(later) <= buy_limit:
            return seed_market.market_id, "buy", buy_limit
        sell_limit = max(soon) + Decimal("0.01")
        if max(later) >= sell_limit:
            return seed_market.market_id, "sell", sell_limit
    raise AssertionError("no Polymarket market moves within the next 20 seconds")


def sign_in(page, site: str) -> None:
    page.goto(site + "/")
    page.get_by_role("button", name="Connect wallet").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def fill_ticket(page, *, side: str, price: Decimal, size: str) -> None:
    page.get_by_label("Sell" if side == "sell" else "Buy", exact=True).check()
    page.get_by_label("Limit price").fill(str(price))
    page.get_by_label("Size").fill(size)


def order_rows(page):
    return page.locator("#orders-table tr[data-order-id]")


def place_and_get_new_order_id(page) -> str:
    before = order_rows(page).count()
    page.get_by_role("button", name="Place order").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#orders-table tr[data-order-id]').length > n", arg=before
    )
    return order_rows(page).first.get_attribute("data-order-id")


def status_of(page, order_id: str):
    return page.locator(f'#orders-table tr[data-order-id="{order_id}"] [data-status]')


def test_a_web_user_trades_with_a_fee_and_watches_orders_update_live(
    site, trading_settings, celery_worker, beat, page, wallet, screenshot
):
    sign_in(page, site)
    # Provisioning at Parsec runs in the worker; the page polls and says when it is done.
    expect(page.locator("#account-ready")).to_be_visible(timeout=30_000)
    expect(page.locator('[data-step="payer"]')).to_have_attribute("data-state", "done")
    screenshot(page, "account-ready")

    page.goto(site + "/markets?exchange=polymarket")
    expect(page.locator("#markets-table tbody tr[data-market-id]")).to_have_count(4)
    screenshot(page, "markets")

    # The ticket follows the exchange: Kalshi lists its own markets and order types, and carries no fee.
    page.goto(site + "/trade")
    page.get_by_label("Exchange").select_option("kalshi")
    expect(page.get_by_label("Market")).to_contain_text("Fed cuts by 25 bps in January?")
    expect(page.locator("#field-order-type option")).to_have_count(2)
    fill_ticket(page, side="buy", price=Decimal("0.5"), size="10")
    expect(page.locator("#fee-summary")).to_contain_text("No builder fee")

    market_id, side, price = plan_order_that_rests_then_fills(
        seed=trading_settings.PARSEC_SIM_SEED, now=time.time()
    )
    page.goto(f"{site}/trade?exchange=polymarket&market_id={market_id}")
    page.wait_for_load_state("load")
    navigations = len(page.navigations)
    page.evaluate("() => { window.__samePage = true; }")

    # The server checks the ticket as the partner API does; the error lands beside its field.
    fill_ticket(page, side=side, price=Decimal("1.5"), size="10")
    page.get_by_role("button", name="Place order").click()
    price_input = page.get_by_label("Limit price")
    expect(page.locator("#error-price")).to_contain_text("between 0 and 1")
    expect(price_input).to_have_attribute("aria-invalid", "true")
    expect(price_input).to_be_focused()

    fill_ticket(page, side=side, price=price, size="10")
    expect(page.locator("#fee-summary")).to_contain_text("USDC")

    # The user first declines the fee signature: the order waits, cancellable, with a way to sign.
    wallet.refuse.add("eth_signTypedData_v4")
    filling_id = place_and_get_new_order_id(page)
    expect(page.locator("#fee-consent-error")).to_contain_text("You declined to sign the fee authorization")
    expect(status_of(page, filling_id)).to_have_attribute("data-status", "awaiting_fee_auth")
    row = page.locator(f'#orders-table tr[data-order-id="{filling_id}"]')
    expect(row.get_by_role("button", name="Cancel")).to_be_visible()
    consent = page.locator("#fee-consent")
    expect(consent).to_contain_text("USDC at most")
    expect(consent).to_contain_text(trading_settings.PARSEC_SIM_ESCROW_CONTRACT_ADDRESS)
    screenshot(page, "trade-fee-declined")

    wallet.refuse.clear()
    row.get_by_role("button", name="Sign fee").click()
    expect(page.locator("#fee-consent-status")).to_contain_text("Fee authorization signed")
    expect(status_of(page, filling_id)).to_have_attribute("data-status", "open", timeout=15_000)
    expect(status_of(page, filling_id)).to_have_attribute("data-status", "filled", timeout=45_000)
    expect(row.locator("[data-filled]")).to_have_attribute("data-filled", "10")
    expect(row.locator("[data-fee-state]")).not_to_have_attribute("data-fee-state", "requested")

    # Resting orders, timed from the click to "open" on the page, measured in the page itself.
    fill_ticket(page, side="buy", price=RESTING_PRICE, size="5")
    page.evaluate(
        "() => document.getElementById('place-order').addEventListener("
        "'click', () => { window.__clickAt = performance.now(); window.__openAt = undefined; }, true)"
    )
    timings = []
    resting_ids = []
    for size in range(5, 5 + TIMED_ORDERS):
        page.get_by_label("Size").fill(str(size))
        order_id = place_and_get_new_order_id(page)
        page.wait_for_function(CLICK_TO_OPEN_SCRIPT, arg=[order_id], polling="raf", timeout=20_000)
        timings.append(page.evaluate("() => window.__openAt - window.__clickAt") / 1000)
        resting_ids.append(order_id)
    screenshot(page, "trade")

    cancelled_id = resting_ids[0]
    page.locator(f'#orders-table tr[data-order-id="{cancelled_id}"]').get_by_role(
        "button", name="Cancel"
    ).click()
    expect(status_of(page, cancelled_id)).to_have_attribute("data-status", "cancelled", timeout=20_000)

    # Everything above happened on one page load.
    assert len(page.navigations) == navigations
    assert page.evaluate("() => window.__samePage") is True
    assert Order.objects.get(id=filling_id).status == Order.Status.FILLED
    assert Order.objects.get(id=cancelled_id).status == Order.Status.CANCELLED
    print(
        f"\nweb: median time from 'Place order' click to status open on the page: "
        f"{statistics.median(timings):.2f} s over {len(timings)} orders "
        f"(each: {', '.join(f'{seconds:.2f}' for seconds in timings)} s)"
    )

    page.goto(site + "/orders")
    expect(status_of(page, filling_id)).to_have_attribute("data-status", "filled")
    screenshot(page, "orders")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "orders-phone")
    page.goto(site + "/fee-authorizations")
    expect(page.locator(f'[data-order-id="{filling_id}"]')).to_be_visible()
    screenshot(page, "fee-authorizations")
