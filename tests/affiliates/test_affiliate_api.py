"""The partner API of the affiliate program: scoped to the caller, typed errors, fixed queries per page."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from affiliates_support import NOW, escrowed_order, fill, make_web_customer, refer, store_escrow_config
from django.db import connection
from django.test.utils import CaptureQueriesContext
from factories import make_api_key, make_partner
from rest_framework.test import APIClient

from affiliates import services
from audit.services import Actor
from fees.commission_models import Commission
from referrals import services as referral_services
from referrals.models import AffiliateProfile

pytestmark = pytest.mark.django_db

SIZE = "100000"
MARCH = date(2026, 3, 1)
APRIL_RUN = NOW.replace(month=4, day=1)


def client_for(partner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(partner=partner)[1])
    return client


@pytest.fixture
def acme(db):
    store_escrow_config()
    return make_partner(name="Acme Referrals", revenue_share_bps=2000)


@pytest.fixture
def acme_client(acme) -> APIClient:
    return client_for(acme)


def test_a_partner_creates_codes_within_its_terms_and_a_taken_code_answers_409(acme, acme_client):
    created = acme_client.post(
        "/api/v1/referral-codes", {"code": "Summer-26", "label": "summer"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["code"], body["revenue_share_bps"], body["link_path"], body["clicks"]) == (
        "summer-26",
        2000,
        "/r/summer-26",
        0,
    )
    other = client_for(make_partner(name="Rival", revenue_share_bps=100))
    taken = other.post("/api/v1/referral-codes", {"code": "summer-26"}, format="json")
    assert (taken.status_code, taken.json()["code"]) == (409, "referral_code_taken")

    above = acme_client.post("/api/v1/referral-codes", {"revenue_share_bps": 2500}, format="json")
    assert (above.status_code, above.json()["code"]) == (400, "revenue_share_above_maximum")
    AffiliateProfile.objects.create(partner=acme, max_revenue_share_bps=3000)
    generated = acme_client.post("/api/v1/referral-codes", {"revenue_share_bps": 2500}, format="json")
    assert generated.status_code == 201
    assert len(generated.json()["code"]) == 8

    bad = acme_client.post("/api/v1/referral-codes", {"code": "x", "extra": 1}, format="json")
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"extra"}


def test_codes_show_their_figures_and_another_partners_code_is_not_found(acme, acme_client):
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    referral_services.referral_click_record(raw_code="acme", now=NOW)
    referral_services.referral_click_record(raw_code="ACME", now=NOW)
    web = make_web_customer("figures")
    refer(web, "acme")
    order, authorization = escrowed_order(web, size=SIZE)
    fill(order, authorization, size=SIZE)

    (code,) = acme_client.get("/api/v1/referral-codes").json()["results"]
    assert code["clicks"] == 2
    assert (code["signups"], code["attributed_customers"]) == (1, 1)
    assert (code["volume"], code["fees"], code["commission"]) == ("50000", 125_000_000, 12_500_000)

    patched = acme_client.patch("/api/v1/referral-codes/acme", {"active": False}, format="json")
    assert (patched.status_code, patched.json()["active"]) == (200, False)
    rival = client_for(make_partner(name="Rival"))
    same_id = {"HTTP_X_REQUEST_ID": "same"}  # so the two bodies can be compared whole
    missing = rival.patch("/api/v1/referral-codes/acme", {"active": True}, format="json", **same_id)
    assert missing.status_code == 404
    assert (
        missing.json()
        == rival.patch("/api/v1/referral-codes/nope", {"active": True}, format="json", **same_id).json()
    )


def test_referrals_are_listed_with_a_shortened_wallet_and_a_fixed_number_of_queries_per_page(
    acme, acme_client
):
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    webs = [make_web_customer(f"listed {index}") for index in range(6)]
    for web in webs:
        refer(web, "acme")
    order, authorization = escrowed_order(webs[0], size=SIZE)
    fill(order, authorization, size=SIZE)

    acme_client.get("/api/v1/referrals")  # the key's first use is recorded once
    counts = []
    for limit in (1, 3, 6):
        with CaptureQueriesContext(connection) as queries:
            page = acme_client.get(f"/api/v1/referrals?limit={limit}")
        assert page.status_code == 200
        assert len(page.json()["results"]) == limit
        counts.append(len(queries))
    assert len(set(counts)) == 1, counts
    first = acme_client.get("/api/v1/referrals?limit=6").json()["results"][-1]
    address = webs[0].signer.address
    assert first["wallet"] == f"{address[:6]}…{address[-4:]}"
    assert (first["commission"], first["flagged"], first["code"]) == (12_500_000, False, "acme")
    assert client_for(make_partner(name="Rival")).get("/api/v1/referrals").json()["results"] == []


def test_commissions_filter_by_state_period_and_customer(acme, acme_client):
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    web = make_web_customer("filters")
    refer(web, "acme")
    order, authorization = escrowed_order(web, size=SIZE)
    fill(order, authorization, size="50000")
    fill(order, authorization, size="50000")

    everything = acme_client.get("/api/v1/commissions").json()["results"]
    assert [item["amount"] for item in everything] == [6_250_000, 6_250_000]
    assert everything[0]["order_id"] == str(order.pk)
    assert acme_client.get("/api/v1/commissions?state=available").json()["results"] == []
    assert len(acme_client.get("/api/v1/commissions?period=2026-03").json()["results"]) == 2
    assert acme_client.get("/api/v1/commissions?period=2026-04").json()["results"] == []
    assert len(acme_client.get(f"/api/v1/commissions?customer={web.customer.pk}").json()["results"]) == 2
    bad = acme_client.get("/api/v1/commissions?period=March")
    assert (bad.status_code, list(bad.json()["fields"])) == (400, ["period"])
    assert acme_client.get("/api/v1/commissions?nope=1").status_code == 400


def test_a_payouts_statement_totals_equal_the_payout_in_json_and_csv(acme, acme_client):
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    web = make_web_customer("statement")
    refer(web, "acme")
    order, authorization = escrowed_order(web, size=SIZE)
    first = fill(order, authorization, size="33333")
    fill(order, authorization, size="66667")
    (payout,) = services.payout_run(actor=Actor.system("test"), period=MARCH, now=APRIL_RUN).created

    listed = acme_client.get("/api/v1/payouts").json()["results"]
    assert [(item["id"], item["period"], item["amount"]) for item in listed] == [
        (payout.pk, "2026-03", 12_500_000)
    ]
    statement = acme_client.get(f"/api/v1/payouts/{payout.pk}").json()
    assert (
        statement["total_commission"]
        == payout.amount
        == sum(line["commission"] for line in statement["lines"])
    )
    line = statement["lines"][0]
    assert (line["order_id"], line["fill_id"], line["market_id"]) == (
        str(order.pk),
        first.fill_id,
        order.market_id,
    )
    assert line["fee_distributed"] == 41_666_250  # floor(125 USDC x 33333 / 100000)

    response = acme_client.get(f"/api/v1/payouts/{payout.pk}?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows[0]["fill_id"] == first.fill_id
    assert rows[0]["filled_size"] == "33333"
    assert rows[-1]["commission_id"] == "total"
    assert int(rows[-1]["commission"]) == payout.amount
    assert sum(int(row["commission"]) for row in rows[:-1]) == payout.amount

    rival = client_for(make_partner(name="Rival"))
    assert rival.get(f"/api/v1/payouts/{payout.pk}").status_code == 404
    same_id = {"HTTP_X_REQUEST_ID": "same"}  # so the two bodies can be compared whole
    assert (
        rival.get("/api/v1/payouts/999999", **same_id).json()
        == rival.get(f"/api/v1/payouts/{payout.pk}", **same_id).json()
    )
    assert acme_client.get(f"/api/v1/payouts/{payout.pk}?format=xml").status_code == 400
    assert Commission.objects.filter(payout=payout).count() == len(rows) - 1


def test_attribution_is_not_ownership_the_referring_partner_cannot_act_for_the_customer(acme, acme_client):
    referral_services.referral_code_create(partner=acme, code="acme", now=NOW)
    web = make_web_customer("not owned")
    refer(web, "acme")
    customer_id = str(web.customer.pk)
    assert acme_client.get(f"/api/v1/customers/{customer_id}").status_code == 404
    assert (
        acme_client.post(f"/api/v1/customers/{customer_id}/wallet-challenges", {}, format="json").status_code
        == 404
    )
    order = acme_client.post(
        "/api/v1/orders?exchange=polymarket",
        {"market_id": "m", "outcome": "Yes", "side": "buy", "price": 0.5, "size": 10},
        format="json",
        HTTP_X_BUILDER_CUSTOMER_ID=customer_id,
        HTTP_IDEMPOTENCY_KEY="not-mine",
    )
    assert order.status_code == 404, order.content
    assert acme_client.get("/api/v1/referrals").json()["results"][0]["customer_id"] == customer_id
