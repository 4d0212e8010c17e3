"""Orders from intake to `open` at the simulator: orders per second and p50/p99 latency, 2 worker processes.

Through orders_bench.start_trading_server: migrates a fresh PostgreSQL database (DATABASE_URL, default
.../bench_orders), empties the benchmark's Redis database (BROKER_URL, default db 5), starts gunicorn (the
API and the simulator) and seeds one partner with a few active customers. Then one Celery worker with
2 prefork processes is started, and the script posts BENCH_ORDERS distinct Kalshi
orders (resting below the market: each ends `open`) and waits, bounded by BENCH_TIMEOUT seconds, until all
are open. Latency is per order, from its creation to the event that made it open.

Knobs (environment): BENCH_ORDERS (2000), BENCH_CLIENTS (4), BENCH_CUSTOMERS (10), BENCH_TIMEOUT (600).
"""

from __future__ import annotations

import os
import sys
import time

import orders_bench as bench

ORDERS = int(os.environ.get("BENCH_ORDERS", "2000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "10"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))


def main() -> None:
    server = bench.start_trading_server(customers=CUSTOMERS, threads=4)
    from django.db.models import Count

    from orders.models import Order

    try:
        server.worker(concurrency=2, pool="prefork", queues=bench.ALL_QUEUES)
        began = time.monotonic()
        intake = bench.load(
            server.creator(), clients=CLIENTS, seconds=TIMEOUT, max_requests=ORDERS, expect=201
        )
        if intake.failed:
            sys.exit(f"intake failed for some orders: {intake.statuses}")
        deadline = began + TIMEOUT
        while time.monotonic() < deadline:
            if Order.objects.filter(status=Order.Status.OPEN).count() >= ORDERS:
                break
            time.sleep(0.5)
        wall = time.monotonic() - began
    finally:
        server.stop()

    by_status = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    latencies, span = bench.open_latencies()
    print(
        f"{ORDERS} Kalshi orders, {CLIENTS} client threads, {CUSTOMERS} customers; gunicorn 2x4 gthread; "
        f"1 Celery worker with 2 prefork processes; PostgreSQL + Redis; simulator over HTTP"
    )
    print(
        f"intake: {intake.per_second:.0f} orders/s "
        f"(p50 {intake.percentile(0.5):.1f} ms, p99 {intake.percentile(0.99):.1f} ms)"
    )
    print(
        f"open at the simulator: {len(latencies)} of {ORDERS} in {span:.1f} s "
        f"-> {len(latencies) / span if span else 0:.0f} orders/s"
    )
    print(
        f"latency creation -> open: p50 {bench.percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {bench.percentile(latencies, 0.99) * 1000:.0f} ms (wall {wall:.1f} s)"
    )
    print(f"final statuses: {by_status}")
    if len(latencies) < ORDERS:
        sys.exit("not every order reached open within the time limit")


if __name__ == "__main__":
    main()
