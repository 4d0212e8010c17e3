"""The shared Parsec rate budget under a venue that pushes back: the simulator's pool at BENCH_QPS.

One run, one server, one database. The simulator enforces a pool of BENCH_QPS requests per sliding
second (PARSEC_SIM_POOL_QPS) and the platform's budget is set to the same figure (PARSEC_POOL_QPS).
BENCH_ORDERS orders are posted to the API with no worker running (they wait `queued`), then a thread-pool
worker (the Procfile's `io`, BENCH_CONCURRENCY threads, more than the pool lets through) drains them.
Printed: the most requests the simulator received in any one-second window (must be <= BENCH_QPS), the
429s it answered against the calls it received (<= 1%), and the drain's throughput in orders per second
(>= 0.9 x BENCH_QPS), the span running from the first claim to the last order acknowledged.

Knobs (environment): BENCH_QPS (100), BENCH_ORDERS (2000), BENCH_CONCURRENCY (32), BENCH_CUSTOMERS (16),
BENCH_TIMEOUT (600), DATABASE_URL (default .../bench_orders), BROKER_URL (default Redis db 5).
"""

from __future__ import annotations

import os
import sys
import time

import httpx
import orders_bench as bench

QPS = int(os.environ.get("BENCH_QPS", "100"))
ORDERS = int(os.environ.get("BENCH_ORDERS", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "16"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))


def main() -> None:
    server = bench.start_trading_server(
        customers=CUSTOMERS,
        PARSEC_SIM_POOL_QPS=str(QPS),
        PARSEC_POOL_QPS=str(QPS),
        RATE_LIMITS_ENABLED="0",  # the partners' own API budgets are not what is measured here
    )
    env = server.env
    from django.db.models import Count, Max, Min

    from orders.models import Order, OrderEvent

    stats_url = f"{server.sim_url}/sim/rate-stats"
    sim_headers = {"X-API-Key": server.sim_key}
    try:
        intake = bench.load(server.creator(), clients=4, seconds=TIMEOUT, max_requests=ORDERS, expect=201)
        if intake.failed:
            sys.exit(f"intake failed for some orders: {intake.statuses}")
        httpx.delete(stats_url, headers=sim_headers).raise_for_status()  # count the drain alone
        server.worker(concurrency=CONCURRENCY)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if not Order.objects.filter(status__in=[Order.Status.QUEUED, Order.Status.SUBMITTING]).exists():
                break
            time.sleep(0.25)
        stats = httpx.get(stats_url, headers=sim_headers).json()
    finally:
        server.stop()

    claims = OrderEvent.objects.filter(to_status="submitting").aggregate(first=Min("created_at"))
    placed = OrderEvent.objects.filter(from_status="submitting").exclude(to_status="queued")
    last = placed.aggregate(last=Max("created_at"))["last"]
    sent = Order.objects.exclude(status__in=[Order.Status.QUEUED, Order.Status.SUBMITTING]).count()
    span = (last - claims["first"]).total_seconds() if last and claims["first"] else 0.0
    rate = sent / span if span else 0.0
    refused_share = stats["refused"] / stats["received"] if stats["received"] else 0.0
    by_status = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    print(
        f"{ORDERS} Kalshi orders, {CUSTOMERS} customers, {CONCURRENCY} io threads; gunicorn 2x8 gthread; "
        f"simulator pool {QPS} QPS, PARSEC_POOL_QPS {QPS}; database {env['DATABASE_URL'].split('://')[0]}"
    )
    print(
        f"simulator: {stats['received']} calls received, {stats['accepted']} accepted; "
        f"most in any one second: {stats['max_received_in_one_second']} received, "
        f"{stats['max_accepted_in_one_second']} accepted"
    )
    print(f"429s: {stats['refused']} of {stats['received']} calls ({refused_share:.2%})")
    print(f"drain: {sent} orders in {span:.1f} s, {rate:.1f} orders/s")
    print(f"final statuses: {by_status}")
    failures = []
    if stats["max_received_in_one_second"] > QPS:
        failures.append(f"more than {QPS} requests in one second")
    if refused_share > 0.01:
        failures.append("more than 1% of calls answered 429")
    if rate < 0.9 * QPS:
        failures.append(f"throughput under {0.9 * QPS:.0f} orders/s")
    if sent < ORDERS:
        failures.append("not every queued order was sent within the time limit")
    if failures:
        sys.exit("; ".join(failures))


if __name__ == "__main__":
    main()
