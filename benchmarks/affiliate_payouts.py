"""A payout run over BENCH_PARTNERS (1,000) partners and BENCH_COMMISSIONS (100,000) commission rows on
PostgreSQL: seconds and queries, against a baseline measured in the same run; and the referrals list's
queries per page at several page sizes.

Migrates a fresh PostgreSQL database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_affiliates),
bulk-creates the partners, one referred customer each, the fee ledger's partner_share rows and their
available commissions (booked in March 2026), then runs the payout run for March twice (the second finds
every payout made) and prints, for each, the seconds, the queries and the ratio to the baseline: one
aggregate query of the same sums per partner (the least any run must read). Then GET /api/v1/referrals
through Django's test client for one partner with BENCH_REFERRALS (300) referred customers, at limits
10, 50 and 200: queries per page, and milliseconds against GET /api/v1/customers at the same limit.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from harness import recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_affiliates"
PARTNERS = int(os.environ.get("BENCH_PARTNERS", "1000"))
COMMISSIONS = int(os.environ.get("BENCH_COMMISSIONS", "100000"))
REFERRALS = int(os.environ.get("BENCH_REFERRALS", "300"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BOOKED_AT = datetime(2026, 3, 10, tzinfo=UTC)
RUN_AT = datetime(2026, 4, 1, 0, 30, tzinfo=UTC)
PERIOD = date(2026, 3, 1)
ADDRESS = "0x39Bc708AdD3A470e59192d3c2d108e57178C80a9"


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False
    call_command("migrate", verbosity=0)


def _authorization(partner, customer, index: int):
    from fees.models import FeeAuthorization

    return FeeAuthorization(
        partner=partner,
        customer=customer,
        exchange="polymarket",
        escrow_order_id="0x" + format(index, "064x"),
        chain_id=137,
        verifying_contract="0x39F35887e583ed7d6eFf6fa472359371145ba549",
        payer=ADDRESS,
        signer=ADDRESS,
        fee_bps=25,
        fee_amount=100_000_000,
        deadline=BOOKED_AT,
        typed_data={},
        created_at=BOOKED_AT,
        state=FeeAuthorization.State.REQUESTED,
    )


def seed_commissions() -> None:
    """PARTNERS partners, each with one referred web customer and COMMISSIONS / PARTNERS commissions."""
    from customers.models import Customer, Partner
    from fees.commission_models import Commission
    from fees.models import FeeAuthorization, FeeLedgerEntry

    web = Partner.objects.create(name="Web (built-in)", is_builtin=True)
    partners = Partner.objects.bulk_create(
        [Partner(name=f"Affiliate {index:04d}", revenue_share_bps=2000) for index in range(PARTNERS)]
    )
    customers = Customer.objects.bulk_create(
        [Customer(partner=web, external_id=f"wallet:{index}") for index in range(PARTNERS)]
    )
    authorizations = FeeAuthorization.objects.bulk_create(
        [_authorization(web, customer, index) for index, customer in enumerate(customers)], batch_size=5000
    )
    per_partner = COMMISSIONS // PARTNERS
    entries = [
        FeeLedgerEntry(
            fee_authorization=authorization,
            kind=FeeLedgerEntry.Kind.PARTNER_SHARE,
            fill_id=f"fill-{authorization.pk}-{fill}",
            # Every tenth partner earns too little to reach the minimum: it carries over.
            amount=1_000 if index % 10 == 0 else 250_000 + fill,
            partner=web,
            beneficiary=partners[index],
            customer=authorization.customer,
            exchange="polymarket",
            created_at=BOOKED_AT,
        )
        for index, authorization in enumerate(authorizations)
        for fill in range(per_partner)
    ]
    entries = FeeLedgerEntry.objects.bulk_create(entries, batch_size=10_000)
    Commission.objects.bulk_create(
        [
            Commission(
                partner_id=entry.beneficiary_id,
                customer_id=entry.customer_id,
                fee_authorization_id=entry.fee_authorization_id,
                ledger_entry=entry,
                fill_id=entry.fill_id,
                exchange="polymarket",
                share_bps=2000,
                amount=entry.amount,
                state=Commission.State.AVAILABLE,
                available_at=BOOKED_AT + timedelta(days=7),
                created_at=BOOKED_AT,
            )
            for entry in entries
        ],
        batch_size=10_000,
    )


def seed_referrals() -> str:
    """One partner with REFERRALS referred customers (and as many customers of its own); its raw key."""
    from audit.services import Actor
    from customers.models import Customer, Partner
    from customers.services import partner_api_key_create
    from referrals.models import Referral, ReferralCode

    partner = Partner.objects.create(name="Lister", revenue_share_bps=2000)
    _, raw_key = partner_api_key_create(actor=Actor.system("benchmark set-up"), partner=partner)
    code = ReferralCode.objects.create(
        partner=partner, code="lister", revenue_share_bps=2000, created_at=BOOKED_AT
    )
    web = Partner.objects.get(is_builtin=True)
    referred = Customer.objects.bulk_create(
        [Customer(partner=web, external_id=f"wallet:list-{index}") for index in range(REFERRALS)]
    )
    Customer.objects.bulk_create(
        [Customer(partner=partner, external_id=f"own-{index}") for index in range(REFERRALS)]
    )
    Referral.objects.bulk_create(
        [
            Referral(
                customer=customer,
                partner=partner,
                code=code,
                revenue_share_bps=2000,
                signer=ADDRESS,
                created_at=BOOKED_AT + timedelta(seconds=index),
            )
            for index, customer in enumerate(referred)
        ]
    )
    return raw_key


def measured(run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
    if os.environ.get("BENCH_SHOW_QUERIES"):
        for query in queries.captured_queries:
            print(f"  {query['time']} s  {query['sql'][:160]}")
    return result, seconds, len(queries)


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    recreate_database(database_url)
    setup_django(database_url)
    from django.db import connection
    from django.db.models import Sum
    from django.test import Client

    from affiliates import services
    from audit.services import Actor
    from fees.commission_models import Commission, Payout

    seed_commissions()
    raw_key = seed_referrals()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    def baseline():
        return list(
            Commission.objects.filter(state="available", payout__isnull=True)
            .values("partner_id")
            .annotate(total=Sum("amount"))
            .order_by("partner_id")
        )

    baseline()  # warm the cache and plans
    baseline_seconds = statistics.median(measured(baseline)[1] for _ in range(ROUNDS))
    first, first_seconds, first_queries = measured(
        lambda: services.payout_run(actor=Actor.system("benchmark"), period=PERIOD, now=RUN_AT)
    )
    second, second_seconds, second_queries = measured(
        lambda: services.payout_run(actor=Actor.system("benchmark"), period=PERIOD, now=RUN_AT)
    )
    in_payouts = Commission.objects.filter(payout__isnull=False).count()
    assert Payout.objects.count() == len(first.created)
    assert not second.created
    total = Commission.objects.count()
    print(f"commissions: {total:,} over {PARTNERS:,} partners (PostgreSQL)")
    print(f"baseline (one aggregate of the payable sums per partner): {baseline_seconds:.3f} s, 1 query")
    print(
        f"payout run: {first_seconds:.2f} s, {first_queries:,} queries, {len(first.created):,} payouts "
        f"({in_payouts:,} commissions), {first.carried_over} carried over; "
        f"{first_seconds / baseline_seconds:.0f}x the baseline"
    )
    print(
        f"payout run again: {second_seconds:.3f} s, {second_queries} queries, {len(second.created)} payouts, "
        f"{second.already_made} already made; {second_seconds / baseline_seconds:.1f}x the baseline"
    )

    client = Client(HTTP_X_API_KEY=raw_key)
    client.get("/api/v1/referrals")  # warm up: the key's last-used write
    client.get("/api/v1/customers")
    for limit in (10, 50, 200):
        response, _, queries = measured(lambda limit=limit: client.get(f"/api/v1/referrals?limit={limit}"))
        assert response.status_code == 200
        assert len(response.json()["results"]) == limit
        referral_ms = statistics.median(
            measured(lambda limit=limit: client.get(f"/api/v1/referrals?limit={limit}"))[1] * 1000
            for _ in range(ROUNDS)
        )
        customer_ms = statistics.median(
            measured(lambda limit=limit: client.get(f"/api/v1/customers?limit={limit}"))[1] * 1000
            for _ in range(ROUNDS)
        )
        print(
            f"GET /referrals?limit={limit}: {queries} queries per page, {referral_ms:.1f} ms, "
            f"{referral_ms / customer_ms:.2f}x GET /customers at the same limit ({customer_ms:.1f} ms)"
        )


if __name__ == "__main__":
    main()
