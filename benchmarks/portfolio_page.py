"""Server time and queries of the portfolio page for a customer with 200 positions and 5,000 fills, and
queries per page of the partner's GET /api/v1/fills at several page sizes.

Migrates a fresh PostgreSQL database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_portfolio),
bulk-creates a web customer with BENCH_POSITIONS (200) market/outcome positions over BENCH_FILLS (5,000)
fills (buys and sells), plus an empty customer as the baseline, and times the pages through Django's
test client (median of BENCH_ROUNDS, 7). Parsec's answers (one positions and one balance call per
exchange) come from an in-process stand-in with no latency, so the figures are our own server time; the
number of Parsec calls per page is printed with them. GET /fills runs over BENCH_PARTNER_FILLS (20,000)
fills of the partner and another partner's.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from harness import recreate_database

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_portfolio"
POSITIONS = int(os.environ.get("BENCH_POSITIONS", "200"))
FILLS = int(os.environ.get("BENCH_FILLS", "5000"))
PARTNER_FILLS = int(os.environ.get("BENCH_PARTNER_FILLS", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
START = datetime(2026, 6, 1, tzinfo=UTC)


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
    sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)


class StandInParsec:
    """Answers the portfolio's Parsec reads at once, counting them."""

    def __init__(self, prices: dict[tuple[str, str], Decimal]) -> None:
        self.prices = prices
        self.calls = 0

    def list_positions(self, *, exchange: str, customer_id: str, market_id: str | None = None):
        from parsec.client import Position

        self.calls += 1
        return [
            Position(
                market_id=market, outcome=outcome, size=Decimal(1), average_price=None, current_price=price
            )
            for (market, outcome), price in self.prices.items()
            if market.startswith(exchange)
        ]

    def get_balance(self, *, exchange: str, customer_id: str, refresh: bool = False):
        from parsec.client import Balance

        self.calls += 1
        return Balance(exchange=exchange, usdc=1_000_000_000, raw={})


def seed():
    from audit.services import Actor
    from customers.models import Customer, Partner
    from customers.services import partner_api_key_create
    from orders.models import Fill, Order

    web = Partner.objects.create(name="Web (built-in)", is_builtin=True)
    other = Partner.objects.create(name="Other partner")
    _, raw_key = partner_api_key_create(actor=Actor.system("benchmark set-up"), partner=web)
    trader, empty, neighbour, stranger = Customer.objects.bulk_create(
        [
            Customer(
                partner=web,
                external_id="trader",
                status=Customer.Status.ACTIVE,
                parsec_customer_id="bench-trader",
            ),
            Customer(
                partner=web,
                external_id="empty",
                status=Customer.Status.ACTIVE,
                parsec_customer_id="bench-empty",
            ),
            Customer(
                partner=web,
                external_id="neighbour",
                status=Customer.Status.ACTIVE,
                parsec_customer_id="bench-n",
            ),
            Customer(
                partner=other,
                external_id="stranger",
                status=Customer.Status.ACTIVE,
                parsec_customer_id="bench-stranger",
            ),
        ]
    )
    markets = [
        (("kalshi" if index % 2 else "polymarket") + f"-bench-{index // 2}", outcome)
        for index in range(POSITIONS // 2)
        for outcome in ("Yes", "No")
    ][:POSITIONS]
    prices = {
        (market, outcome): Decimal(30 + index % 40).scaleb(-2)
        for index, (market, outcome) in enumerate(markets)
    }

    def orders_for(customer, partner, count, fills_each):
        orders = []
        for index in range(count):
            market, outcome = markets[index % len(markets)]
            orders.append(
                Order(
                    partner=partner,
                    customer=customer,
                    exchange=market.split("-")[0],
                    market_id=market,
                    outcome=outcome,
                    side="sell" if index % 5 == 4 else "buy",
                    price=Decimal("0.50"),
                    size=Decimal(fills_each),
                    filled=Decimal(fills_each),
                    status=Order.Status.FILLED,
                    created_at=START + timedelta(minutes=index),
                    updated_at=START + timedelta(minutes=index),
                )
            )
        orders = Order.objects.bulk_create(orders, batch_size=2000)
        fills = [
            Fill(
                fill_id=f"fill-{uuid.uuid4().hex}",
                order=order,
                price=Decimal(40 + (index + part) % 20).scaleb(-2),
                size=Decimal(1),
                fee=Decimal("0.0005"),
                created_at=order.created_at + timedelta(seconds=part),
                recorded_at=order.created_at,
            )
            for index, order in enumerate(orders)
            for part in range(fills_each)
        ]
        Fill.objects.bulk_create(fills, batch_size=5000)

    orders_for(trader, web, FILLS // 5, 5)
    orders_for(stranger, other, PARTNER_FILLS // 10, 5)
    orders_for(neighbour, web, PARTNER_FILLS // 10, 5)  # more of the partner's fills, on the same markets
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return raw_key, trader, empty, prices


def signed_in(customer):
    from django.test import Client

    from web.session import SESSION_CUSTOMER_KEY

    client = Client()
    session = client.session
    session[SESSION_CUSTOMER_KEY] = str(customer.pk)
    session.save()
    return client


def measure(run) -> tuple[float, int]:
    """(median milliseconds, queries of one run)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run()  # warm caches (the question and market caches, the session)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        run()
    return statistics.median(timings), len(queries)


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    recreate_database(database_url)
    setup_django(database_url)
    from orders.models import Fill
    from parsec import conf

    raw_key, trader, empty, prices = seed()
    parsec = StandInParsec(prices)
    conf.get_client = lambda: parsec

    trader_client, empty_client = signed_in(trader), signed_in(empty)

    def page(client):
        response = client.get("/portfolio")
        assert response.status_code == 200, response.status_code
        return response

    assert page(trader_client).content.count(b"data-position=") == POSITIONS
    fills = Fill.objects.filter(order__customer=trader).count()
    empty_ms, empty_queries = measure(lambda: page(empty_client))
    before = parsec.calls
    full_ms, full_queries = measure(lambda: page(trader_client))
    calls = (parsec.calls - before) // (ROUNDS + 2)
    print(
        f"portfolio page, {POSITIONS} positions over {fills} fills "
        "(PostgreSQL, Parsec stood in at zero latency)"
    )
    print(f"  empty portfolio (baseline): {empty_ms:7.1f} ms, {empty_queries} queries")
    print(
        f"  {POSITIONS} positions:            {full_ms:7.1f} ms, {full_queries} queries, {calls} Parsec calls"
    )
    print(
        f"  ratio to the baseline:      {full_ms / empty_ms:7.2f}x time, "
        f"{full_queries - empty_queries:+d} queries"
    )

    from django.test import Client

    api = Client(HTTP_X_API_KEY=raw_key)
    api.get("/api/v1/fills", {"limit": 1})  # the key's first use records last_used_at
    print(f"partner GET /api/v1/fills over {Fill.objects.count()} fills (the partner's and another's)")
    baseline = None
    for limit in (1, 50, 200):

        def listing(limit=limit):
            response = api.get("/api/v1/fills", {"limit": limit})
            assert response.status_code == 200, response.content
            return response

        ms, queries = measure(listing)
        baseline = baseline or ms
        print(
            f"  limit {limit:3d}: {ms:7.1f} ms, {queries} queries per page, "
            f"{ms / baseline:5.2f}x the limit-1 time"
        )


if __name__ == "__main__":
    main()
