"""Orders from intake to `open` at the simulator: orders per second and p50/p99 latency, 2 worker processes.

Migrates a fresh PostgreSQL database (DATABASE_URL, default .../bench_orders), empties the benchmark's Redis
database (BROKER_URL, default db 5), starts gunicorn (the API and the simulator) and one Celery worker with
2 prefork processes, seeds one partner with a few active customers, then posts BENCH_ORDERS distinct Kalshi
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
    database_url = os.environ.get("DATABASE_URL", bench.DEFAULT_DATABASE_URL)
    broker_url = os.environ.get("BROKER_URL", bench.DEFAULT_BROKER_URL)
    bench.recreate_database(database_url)
    bench.purge_broker(broker_url)
    port = bench.free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = bench.environment(database_url=database_url, broker_url=broker_url, port=port)
    bench.migrate(env)
    bench.django_setup(env)
    from django.db.models import Count

    from orders.models import Order, OrderEvent

    processes = bench.Processes()
    try:
        server = bench.gunicorn(processes, env, port, workers=2, threads=4)
        bench.wait_until_up(base_url, server)
        raw_key, customer_ids = bench.seed_trader(base_url=base_url, customers=CUSTOMERS)
        bench.celery_worker(processes, env, concurrency=2)

        create = bench.order_creator(base_url=base_url, raw_key=raw_key, customer_ids=customer_ids)

        began = time.monotonic()
        intake = bench.load(create, clients=CLIENTS, seconds=TIMEOUT, max_requests=ORDERS, expect=201)
        if intake.failed:
            sys.exit(f"intake failed for some orders: {intake.statuses}")
        deadline = began + TIMEOUT
        while time.monotonic() < deadline:
            if Order.objects.filter(status=Order.Status.OPEN).count() >= ORDERS:
                break
            time.sleep(0.5)
        wall = time.monotonic() - began
    finally:
        processes.stop_all()
        bench.purge_broker(broker_url)

    by_status = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    opened = {
        order_id: at
        for order_id, at in OrderEvent.objects.filter(to_status="open").values_list("order_id", "created_at")
    }
    created = dict(Order.objects.values_list("id", "created_at"))
    latencies = [(opened[order_id] - created[order_id]).total_seconds() for order_id in opened]
    first, last = min(created.values()), max(opened.values(), default=min(created.values()))
    span = (last - first).total_seconds()
    print(
        f"{ORDERS} Kalshi orders, {CLIENTS} client threads, {CUSTOMERS} customers; gunicorn 2x4 gthread; "
        f"1 Celery worker with 2 prefork processes; PostgreSQL + Redis; simulator over HTTP"
    )
    print(
        f"intake: {intake.per_second:.0f} orders/s "
        f"(p50 {intake.percentile(0.5):.1f} ms, p99 {intake.percentile(0.99):.1f} ms)"
    )
    print(
        f"open at the simulator: {len(opened)} of {ORDERS} in {span:.1f} s "
        f"-> {len(opened) / span if span else 0:.0f} orders/s"
    )
    print(
        f"latency creation -> open: p50 {bench.percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {bench.percentile(latencies, 0.99) * 1000:.0f} ms (wall {wall:.1f} s)"
    )
    print(f"final statuses: {by_status}")
    if len(opened) < ORDERS:
        sys.exit("not every order reached open within the time limit")


if __name__ == "__main__":
    main()
