"""Milliseconds for a partner's 90-day fee statement over 100,000 ledger rows, as JSON and as streamed CSV.

Migrates a fresh PostgreSQL database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_fees),
bulk-creates one partner with BENCH_CUSTOMERS (1,000) customers and BENCH_ROWS (100,000) ledger rows over
90 days (four rows per fee: authorized, the affiliate and treasury parts of a fill, the refund), plus a
second partner's rows that the statement must skip, then requests GET /api/v1/fees/statement through
Django's test client with the partner's key and prints the median of BENCH_ROUNDS (5) timings of each.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness import recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_fees"
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "1000"))
ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DAYS = 90
START = datetime(2026, 1, 1, tzinfo=UTC)


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False  # no query log kept per request, as in production
    call_command("migrate", verbosity=0)


def seed() -> str:
    """One partner with customers and ledger rows (plus a bystander partner); its raw API key."""
    from audit.services import Actor
    from customers.models import Customer, Partner
    from customers.services import partner_api_key_create
    from fees.models import FeeAuthorization, FeeLedgerEntry

    rng = random.Random(7)
    partner = Partner.objects.create(name="Benchmark Partner", fee_bps=25)
    bystander = Partner.objects.create(name="Bystander")
    _, raw_key = partner_api_key_create(actor=Actor.system("benchmark set-up"), partner=partner)
    customers = Customer.objects.bulk_create(
        [
            Customer(partner=partner, external_id=f"user-{index:05d}", status=Customer.Status.PROVISIONING)
            for index in range(CUSTOMERS)
        ]
        + [Customer(partner=bystander, external_id="bystander", status=Customer.Status.PROVISIONING)]
    )
    payer = "0x39Bc708AdD3A470e59192d3c2d108e57178C80a9"
    # The partner's fees, then a few of a bystander partner that the statement must leave out.
    owners = [(partner, customers[index % CUSTOMERS]) for index in range(ROWS // 4)]
    owners += [(bystander, customers[-1])] * 500
    authorizations = FeeAuthorization.objects.bulk_create(
        [
            FeeAuthorization(
                partner=owner,
                customer=customer,
                exchange="polymarket",
                escrow_order_id="0x" + format(index, "064x"),
                chain_id=137,
                verifying_contract="0x39F35887e583ed7d6eFf6fa472359371145ba549",
                payer=payer,
                signer=payer,
                fee_bps=25,
                fee_amount=rng.randint(10_000, 5_000_000),
                deadline=START,
                typed_data={},
                created_at=START,
            )
            for index, (owner, customer) in enumerate(owners)
        ],
        batch_size=5000,
    )
    entries = []
    for authorization in authorizations:
        at = START + timedelta(seconds=rng.randrange(DAYS * 86_400))
        distributed = authorization.fee_amount * rng.randint(0, 100) // 100
        affiliate = distributed // 2
        for kind, amount, fill_id in (
            (FeeLedgerEntry.Kind.AUTHORIZED, authorization.fee_amount, ""),
            (FeeLedgerEntry.Kind.DISTRIBUTED_AFFILIATE, affiliate, "f1"),
            (FeeLedgerEntry.Kind.DISTRIBUTED_TREASURY, distributed - affiliate, "f1"),
            (FeeLedgerEntry.Kind.REFUNDED, authorization.fee_amount - distributed, ""),
        ):
            entries.append(
                FeeLedgerEntry(
                    fee_authorization_id=authorization.pk,
                    kind=kind,
                    fill_id=fill_id,
                    amount=amount,
                    partner_id=authorization.partner_id,
                    customer_id=authorization.customer_id,
                    exchange="polymarket",
                    created_at=at,
                )
            )
    FeeLedgerEntry.objects.bulk_create(entries, batch_size=10_000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return raw_key


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    recreate_database(database_url)
    setup_django(database_url)
    from django.test import Client

    from fees.models import FeeLedgerEntry

    raw_key = seed()
    client = Client(HTTP_X_API_KEY=raw_key)
    params = {"start": START.date().isoformat(), "end": (START + timedelta(days=DAYS - 1)).date().isoformat()}

    def json_statement() -> None:
        response = client.get("/api/v1/fees/statement", params)
        assert response.status_code == 200, response.content[:300]
        assert len(response.json()["customers"]) == CUSTOMERS

    def csv_statement() -> None:
        response = client.get("/api/v1/fees/statement", {**params, "format": "csv"})
        assert response.status_code == 200
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        assert lines == 1 + 1 + CUSTOMERS  # header, one exchange, one line per customer

    json_statement()  # warm up: the key's last-used write, connection, plans
    csv_statement()
    json_ms = [timed(json_statement) for _ in range(ROUNDS)]
    csv_ms = [timed(csv_statement) for _ in range(ROUNDS)]
    rows = FeeLedgerEntry.objects.filter(partner__name="Benchmark Partner").count()
    print(f"partner's ledger rows: {rows} ({CUSTOMERS} customers, {DAYS} days, PostgreSQL)")
    print(f"statement JSON: {statistics.median(json_ms):7.1f} ms (median of {ROUNDS})")
    print(f"statement CSV:  {statistics.median(csv_ms):7.1f} ms (median of {ROUNDS})")


if __name__ == "__main__":
    main()
