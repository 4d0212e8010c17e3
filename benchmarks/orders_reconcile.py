"""One reconciliation pass over 10,000 live orders of 1,000 customers: seconds, Parsec requests, queries.

Migrates a fresh PostgreSQL database (DATABASE_URL, default .../bench_orders), seeds the simulator's tables
and ours directly (BENCH_CUSTOMERS customers x BENCH_ORDERS_PER_CUSTOMER open Kalshi orders, each known at the
simulator), starts gunicorn serving the simulator, and runs reconciliation passes in this process, one
(customer, exchange) after another: a steady pass (nothing changed), then a pass after a tenth of the orders
got a fill at the simulator. Counts Parsec requests per pass and our database queries per order.

Knobs (environment): BENCH_CUSTOMERS (1000), BENCH_ORDERS_PER_CUSTOMER (10).
"""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import orders_bench as bench

CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "1000"))
PER_CUSTOMER = int(os.environ.get("BENCH_ORDERS_PER_CUSTOMER", "10"))


def seed(now) -> list:
    from django.conf import settings

    from customers.models import Customer, Partner
    from orders.models import Order
    from parsec.sim.models import SimBuilderUser, SimMarket, SimOrder
    from parsec.sim.services import sim_builder_ensure, sim_markets_ensure

    builder = sim_builder_ensure(api_key=settings.PARSEC_API_KEY, name="benchmark builder")
    sim_markets_ensure()
    market = SimMarket.objects.get(exchange="kalshi", market_id=bench.KALSHI_MARKET)
    partner = Partner.objects.create(name="Reconcile benchmark")
    users = SimBuilderUser.objects.bulk_create(
        [
            SimBuilderUser(
                builder=builder, external_id=f"r-{index}", key_hash=uuid.uuid4().hex, key_prefix="x"
            )
            for index in range(CUSTOMERS)
        ]
    )
    customers = Customer.objects.bulk_create(
        [
            Customer(
                partner=partner,
                external_id=f"r-{index}",
                parsec_customer_id=str(user.customer_id),
                status=Customer.Status.ACTIVE,
            )
            for index, user in enumerate(users)
        ]
    )
    sim_orders, orders = [], []
    for user, customer in zip(users, customers, strict=True):
        for index in range(PER_CUSTOMER):
            created = now - timedelta(seconds=PER_CUSTOMER - index)
            price = Decimal(index + 1) / 1000 + Decimal("0.001")
            parsec_id = "ord_" + uuid.uuid4().hex
            sim_orders.append(
                SimOrder(
                    id=parsec_id,
                    customer=user,
                    exchange="kalshi",
                    market=market,
                    outcome="Yes",
                    side="buy",
                    price=price,
                    size=Decimal(10),
                    status=SimOrder.Status.OPEN,
                    created_at=created,
                )
            )
            orders.append(
                Order(
                    partner=partner,
                    customer=customer,
                    exchange="kalshi",
                    market_id=bench.KALSHI_MARKET,
                    outcome="Yes",
                    side="buy",
                    price=price,
                    size=Decimal(10),
                    status=Order.Status.OPEN,
                    parsec_order_id=parsec_id,
                    sent_at=created,
                    created_at=created,
                    updated_at=created,
                )
            )
    SimOrder.objects.bulk_create(sim_orders, batch_size=2000)
    Order.objects.bulk_create(orders, batch_size=2000)
    return sim_orders


def fill_some(sim_orders, now) -> int:
    from parsec.sim.models import SimFill, SimOrder

    chosen = sim_orders[::10]
    SimFill.objects.bulk_create(
        [
            SimFill(
                fill_id=f"fill_{order.id}",
                order=order,
                price=order.price,
                size=Decimal(4),
                is_taker=False,
                fee=Decimal(0),
                created_at=now,
            )
            for order in chosen
        ]
    )
    SimOrder.objects.filter(id__in=[order.id for order in chosen]).update(
        filled=Decimal(4), status=SimOrder.Status.PARTIALLY_FILLED, updated_at=now
    )
    return len(chosen)


def one_pass():
    from django.db import connection
    from django.utils import timezone

    from orders.services import reconcile, reconcile_schedule

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    totals = {"requests": 0, "orders": 0, "updated": 0, "new_fills": 0, "pairs": 0}
    began = time.monotonic()
    with connection.execute_wrapper(count):
        for customer_id, exchange in list(reconcile_schedule.reconcile_pairs()):
            report = reconcile.reconcile_customer_exchange(
                customer_id=customer_id, exchange=exchange, now=timezone.now()
            )
            totals["pairs"] += 1
            totals["requests"] += report.parsec_requests
            totals["orders"] += report.orders
            totals["updated"] += report.updated
            totals["new_fills"] += report.new_fills
    return time.monotonic() - began, queries, totals


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", bench.DEFAULT_DATABASE_URL)
    broker_url = os.environ.get("BROKER_URL", bench.DEFAULT_BROKER_URL)
    bench.recreate_database(database_url)
    bench.purge_broker(broker_url)
    port = bench.free_port()
    env = bench.environment(database_url=database_url, broker_url=broker_url, port=port)
    bench.migrate(env)
    bench.django_setup(env)
    from django.utils import timezone

    sim_orders = seed(timezone.now())
    processes = bench.Processes()
    try:
        server = bench.gunicorn(processes, env, port, workers=2, threads=4)
        bench.wait_until_up(f"http://127.0.0.1:{port}", server)
        steady = one_pass()
        filled = fill_some(sim_orders, timezone.now())
        changed = one_pass()
    finally:
        processes.stop_all()
        bench.purge_broker(broker_url)

    print(
        f"{CUSTOMERS} customers x {PER_CUSTOMER} open Kalshi orders; one process, pairs one after another; "
        f"simulator over HTTP (gunicorn 2x4); PostgreSQL"
    )
    for name, (seconds, queries, totals) in (
        ("steady pass", steady),
        (f"pass after {filled} fills", changed),
    ):
        pairs = totals["pairs"] or 1
        print(
            f"{name:24} {seconds:6.1f} s  ({seconds / pairs * 1000:.1f} ms per customer-exchange); "
            f"Parsec requests {totals['requests']} ({totals['requests'] / pairs:.2f} per customer-exchange); "
            f"queries {queries} ({queries / max(totals['orders'], 1):.2f} per order, "
            f"{queries / pairs:.1f} per pair); "
            f"updated {totals['updated']}, new fills {totals['new_fills']}"
        )


if __name__ == "__main__":
    main()
