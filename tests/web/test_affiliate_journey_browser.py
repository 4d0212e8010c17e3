"""The affiliate journey in Chromium: a partner's link, a new wallet's sign-in, a filled order with a fee,
the partner's referral and commission over its API, a payout run, and the statement's CSV line."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from factories import make_api_key, make_partner
from playwright.sync_api import expect
from polling import wait_until
from rest_framework.test import APIClient
from test_web_trading_browser import beat, fill_ticket, place_and_get_new_order_id, sign_in, status_of  # noqa: F401

from affiliates import services as affiliate_services
from audit.services import Actor
from customers.models import Customer
from orders.models import Fill, Order
from referrals.models import Referral

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# A buy far above any simulated price is a taker at once; 40 shares are within the book's depth.
PRICE = "0.99"
SIZE = "40"


@pytest.fixture
def journey_settings(parsec_sim, settings):
    settings.PARSEC_SIM_FILL_CHUNK_FRACTION = "1"
    settings.COMMISSION_HOLD_DAYS = 0  # the hold is tested on its own; here the payout comes at once
    return settings


def partner_api(partner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(partner=partner)[1])
    return client


def test_a_referred_visitor_trades_and_the_partner_is_paid_for_it(
    site,
    journey_settings,
    celery_worker,
    beat,  # noqa: F811 - the fixture imported above
    page,
    wallet,
    screenshot,
):
    acme = make_partner(name="Acme Affiliates", revenue_share_bps=2000)
    acme_api = partner_api(acme)
    created = acme_api.post(
        "/api/v1/referral-codes", {"code": "acme-launch", "label": "launch"}, format="json"
    )
    assert created.status_code == 201, created.content
    rival = make_partner(name="Rival Affiliates", revenue_share_bps=3000)
    assert (
        partner_api(rival).post("/api/v1/referral-codes", {"code": "rival"}, format="json").status_code == 201
    )

    page.goto(site + "/r/acme-launch?next=/")
    expect(page.locator("#invited-by")).to_have_text("Invited by Acme Affiliates")
    screenshot(page, "affiliate-invited")
    sign_in(page, site)
    expect(page.locator("#account-invited-by")).to_have_text("Acme Affiliates")
    expect(page.locator("#account-ready")).to_be_visible(timeout=30_000)

    page.goto(f"{site}/trade?exchange=polymarket")
    market_id = page.get_by_label("Market").input_value()
    fill_ticket(page, side="buy", price=PRICE, size=SIZE)
    expect(page.locator("#fee-summary")).to_contain_text("USDC")
    order_id = place_and_get_new_order_id(page)
    expect(status_of(page, order_id)).to_have_attribute("data-status", "filled", timeout=45_000)
    screenshot(page, "affiliate-order-filled")

    customer = Customer.objects.get(external_id=f"wallet:{wallet.address}")
    assert customer.partner.is_builtin  # attribution is not ownership
    order = Order.objects.get(id=order_id)
    assert order.market_id == market_id

    # The ledger books the fill's commission when reconciliation records the fill: wait for it.
    (commission,) = wait_until(lambda: acme_api.get("/api/v1/commissions").json()["results"], timeout=30)
    assert commission["order_id"] == order_id
    assert commission["amount"] > 0

    (referral,) = acme_api.get("/api/v1/referrals").json()["results"]
    assert referral["customer_id"] == str(customer.pk)
    assert referral["code"] == "acme-launch"
    assert referral["commission"] == commission["amount"]
    assert referral["wallet"] == f"{wallet.address[:6]}…{wallet.address[-4:]}"

    # The payout run for this month, run on the 1st of the next. The commission is far below the
    # 10 USDC minimum, so the run is given a minimum of one base unit (the minimum is tested apart).
    now = datetime.now(UTC)
    period = now.date().replace(day=1)
    run_at = affiliate_services.period_end(period)
    (payout,) = affiliate_services.payout_run(
        actor=Actor.system("test"), period=period, now=run_at, minimum=1
    ).created
    affiliate_services.payout_mark_paid(
        actor=Actor.system("test"), payout=payout, reference="0x" + "ab" * 32, paid_by="finance", now=run_at
    )
    paid = acme_api.get(f"/api/v1/payouts/{payout.pk}").json()
    assert paid["payout"]["state"] == "paid"
    assert paid["payout"]["amount"] == commission["amount"]

    statement = acme_api.get(f"/api/v1/payouts/{payout.pk}?format=csv").content.decode()
    (line, total) = list(csv.DictReader(io.StringIO(statement)))
    fill = Fill.objects.get(order=order)
    assert (line["order_id"], line["fill_id"], line["exchange"]) == (order_id, fill.fill_id, "polymarket")
    assert line["market_id"] == order.market_id
    assert line["filled_size"] == SIZE
    assert int(line["commission"]) == commission["amount"] == int(total["commission"])
    assert acme_api.get("/api/v1/commissions?state=paid").json()["results"][0]["id"] == commission["id"]

    # The same wallet, as a new visitor (no session, no cookie), through the rival's link: still Acme's.
    page.context.clear_cookies()
    page.goto(site + "/r/rival?next=/")
    expect(page.locator("#invited-by")).to_have_text("Invited by Rival Affiliates")
    sign_in(page, site)
    expect(page.locator("#account-invited-by")).to_have_text("Acme Affiliates")
    assert Referral.objects.get(customer=customer).partner_id == acme.pk
    assert partner_api(rival).get("/api/v1/referrals").json()["results"] == []
