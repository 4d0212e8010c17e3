"""GET /api/v1/fees/statement: a partner's fee totals per exchange, kind and customer, as JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.http import StreamingHttpResponse
from factories import make_api_key, make_customer
from fees_support import make_fee_customer
from rest_framework.test import APIClient

from fees.models import FeeAuthorization, FeeLedgerEntry

Kind = FeeLedgerEntry.Kind
URL = "/api/v1/fees/statement"
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def make_authorization(who, *, customer=None, exchange: str = "polymarket") -> FeeAuthorization:
    index = FeeAuthorization.objects.count() + 1
    return FeeAuthorization.objects.create(
        partner=who.partner,
        customer=customer or who.customer,
        exchange=exchange,
        escrow_order_id="0x" + format(index, "064x"),
        chain_id=137,
        verifying_contract="0x39F35887e583ed7d6eFf6fa472359371145ba549",
        payer=who.payer,
        signer=who.signer.address,
        fee_bps=25,
        fee_amount=1_000_000,
        deadline=DAY,
        typed_data={},
        created_at=DAY,
    )


def book(authorization, kind: str, amount: int, at: datetime) -> None:
    per_fill = kind in FeeLedgerEntry.PER_FILL
    FeeLedgerEntry.objects.create(
        fee_authorization=authorization,
        kind=kind,
        fill_id=f"fill-{FeeLedgerEntry.objects.count()}" if per_fill else "",
        amount=amount,
        partner_id=authorization.partner_id,
        customer_id=authorization.customer_id,
        exchange=authorization.exchange,
        created_at=at,
    )


@pytest.fixture
def statement(db):
    """Two customers of one partner (with a key), and another partner's entries that must never show."""
    alice = make_fee_customer(label="alice", name="Statement Partner")
    bob_customer = make_customer(partner=alice.partner, external_id="bob")
    alice.customer.external_id = "alice"
    alice.customer.save(update_fields=["external_id"])
    first = make_authorization(alice)
    book(first, Kind.AUTHORIZED, 1_000_000, DAY)  # first day, midnight: included
    book(first, Kind.DISTRIBUTED_AFFILIATE, 250_000, DAY + timedelta(days=1))
    book(first, Kind.DISTRIBUTED_TREASURY, 250_001, DAY + timedelta(days=1))
    book(first, Kind.REFUNDED, 499_999, DAY + timedelta(days=2, hours=23, minutes=59, seconds=59))  # last day
    book(
        make_authorization(alice, customer=bob_customer), Kind.AUTHORIZED, 2_000_000, DAY + timedelta(hours=5)
    )
    book(
        make_authorization(alice, customer=bob_customer), Kind.AUTHORIZED, 7, DAY - timedelta(seconds=1)
    )  # before
    second_late = make_authorization(alice)
    book(second_late, Kind.AUTHORIZED, 9, DAY + timedelta(days=3))  # the day after the end: excluded
    other = make_fee_customer(label="other partner")
    book(make_authorization(other), Kind.AUTHORIZED, 5_000_000, DAY)
    _, raw_key = make_api_key(partner=alice.partner)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return {"client": client, "alice": alice, "bob": bob_customer}


def get(client, **params):
    return client.get(URL, {"start": "2026-03-02", "end": "2026-03-04", **params})


def test_the_statement_sums_the_partners_entries_per_exchange_and_kind(statement):
    response = get(statement["client"])
    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["currency"], body["decimals"]) == (
        "2026-03-02",
        "2026-03-04",
        "USDC",
        6,
    )
    [polymarket] = body["exchanges"]
    assert polymarket["exchange"] == "polymarket"
    assert polymarket["totals"][Kind.AUTHORIZED] == {"amount": 3_000_000, "usdc": "3.000000"}
    assert polymarket["totals"][Kind.DISTRIBUTED_TREASURY] == {"amount": 250_001, "usdc": "0.250001"}
    assert polymarket["totals"][Kind.REFUNDED] == {"amount": 499_999, "usdc": "0.499999"}
    assert polymarket["totals"][Kind.PARTNER_SHARE] == {"amount": 0, "usdc": "0.000000"}


def test_the_statement_has_one_line_per_customer_with_its_totals_per_kind(statement):
    body = get(statement["client"]).json()
    lines = {line["external_id"]: line for line in body["customers"]}
    assert set(lines) == {"alice", "bob"}
    assert lines["alice"]["customer_id"] == str(statement["alice"].customer.id)
    assert lines["alice"]["totals"][Kind.AUTHORIZED]["amount"] == 1_000_000
    assert lines["alice"]["totals"][Kind.DISTRIBUTED_AFFILIATE]["usdc"] == "0.250000"
    assert lines["bob"]["totals"][Kind.AUTHORIZED] == {"amount": 2_000_000, "usdc": "2.000000"}
    assert lines["bob"]["totals"][Kind.REFUNDED]["amount"] == 0


def test_the_csv_streams_the_same_figures(statement):
    response = get(statement["client"], format="csv")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="fee-statement-2026-03-02-2026-03-04.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["section"] for row in rows] == ["exchange", "customer", "customer"]
    polymarket, alice, bob = rows
    assert (polymarket["exchange"], polymarket["authorized"], polymarket["authorized_usdc"]) == (
        "polymarket",
        "3000000",
        "3.000000",
    )
    assert (alice["external_id"], alice["customer_id"]) == ("alice", str(statement["alice"].customer.id))
    assert (alice["refunded"], alice["refunded_usdc"], alice["distributed_treasury"]) == (
        "499999",
        "0.499999",
        "250001",
    )
    assert (bob["external_id"], bob["authorized"], bob["refunded"]) == ("bob", "2000000", "0")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-02-30"}, "start"),
        ({"end": "04/03/2026"}, "end"),
        ({"start": "2026-03-05", "end": "2026-03-04"}, "end"),
        ({"start": "2025-01-01", "end": "2026-01-02"}, "end"),  # 367 days
    ],
    ids=["no-such-date", "wrong-format", "reversed", "too-long"],
)
def test_bad_or_reversed_or_overlong_ranges_are_refused_in_the_platforms_shape(statement, params, field):
    response = get(statement["client"], **params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in body["fields"]
    assert body["error"]


def test_a_missing_date_is_refused_even_when_csv_is_asked_for(statement):
    response = statement["client"].get(URL, {"start": "2026-03-02", "format": "csv"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "end" in response.json()["fields"]


def test_a_whole_leap_year_is_allowed(statement):
    assert get(statement["client"], start="2028-01-01", end="2028-12-31").status_code == 200


def test_without_a_key_the_statement_is_refused(db):
    response = APIClient().get(URL, {"start": "2026-03-02", "end": "2026-03-04"})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_the_statement_takes_the_same_few_queries_however_many_customers(
    statement, django_assert_max_num_queries
):
    client = statement["client"]
    get(client)  # the key's last-used time is written once; later requests only read
    with django_assert_max_num_queries(3):
        get(client)
    for index in range(20):
        customer = make_customer(partner=statement["alice"].partner, external_id=f"more-{index}")
        book(make_authorization(statement["alice"], customer=customer), Kind.AUTHORIZED, 10, DAY)
    with django_assert_max_num_queries(3):
        body = get(client).json()
    assert len(body["customers"]) == 22
