"""10,000 orders with a fifth of the simulator's requests failing: orders lost, duplicated, time to settle.

Migrates a fresh PostgreSQL database (DATABASE_URL, default .../bench_orders), empties the benchmark's Redis
database (BROKER_URL, default db 5), seeds BENCH_CUSTOMERS active customers (without faults), then restarts
gunicorn with PARSEC_SIM_FAULT_RATES summing to 20% (5xx, 429, latency, timeout before apply, apply then drop
the answer) and runs Celery as the Procfile does (the `io` thread-pool worker, BENCH_IO_CONCURRENCY threads,
on submission, cancel and reconciliation; 2 prefork processes on default) and beat (sweep every 2 s,
reconciliation every 5 s). BENCH_ORDERS
distinct Kalshi orders are posted (a refused or lost intake is retried with the same Idempotency-Key); then,
bounded by BENCH_TIMEOUT, it waits until every order is open or final. Finally it compares our orders with
the simulator's table: lost = an order of ours without a simulator order, duplicated = a second
simulator order for one of our (distinct) intents. Both must be 0.

Knobs (environment): BENCH_ORDERS (10000), BENCH_CUSTOMERS (100), BENCH_CLIENTS (4), BENCH_IO_CONCURRENCY
(16), BENCH_TIMEOUT (1800).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import httpx
import orders_bench as bench

ORDERS = int(os.environ.get("BENCH_ORDERS", "10000"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "100"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
IO_CONCURRENCY = int(os.environ.get("BENCH_IO_CONCURRENCY", "16"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "1800"))
FAULT_RATES = (
    "error-503=0.05,error-500=0.03,rate-limit=0.04,latency=0.02,"
    "timeout-before-apply=0.03,apply-then-drop=0.03"
)
ORDER_SETTINGS = {
    "PARSEC_READ_TIMEOUT": "2",
    "PARSEC_SIM_HOLD_SECONDS": "3",
    "PARSEC_SIM_LATENCY_SECONDS": "0.2",
    "ORDER_RECONCILE_INTERVAL_SECONDS": "5",
    "ORDER_OUTBOX_SWEEP_INTERVAL_SECONDS": "2",
    "ORDER_OUTBOX_STALE_SECONDS": "30",
    "ORDER_RECONCILE_RESEND_GRACE_SECONDS": "20",
    "ORDER_SUBMIT_GIVE_UP_SECONDS": "3600",
}
IN_FLIGHT = ("queued", "submitting", "unknown")


def main() -> None:
    server = bench.start_trading_server(
        customers=CUSTOMERS,
        workers=2,
        threads=4,
        seed_env={"PARSEC_SIM_FAULT_RATES": ""},  # the customers are provisioned without faults
        PARSEC_SIM_FAULT_RATES=FAULT_RATES,
        **ORDER_SETTINGS,
    )
    base_url, raw_key, customer_ids = server.base_url, server.raw_key, server.customer_ids
    from django.db.models import Count

    from orders.models import Order, OrderEvent
    from parsec.sim.models import SimOrder

    try:
        # As the Procfile deploys them: the `io` thread pool (submission, cancel, reconciliation) and the
        # prefork `worker` for the rest, with beat.
        server.worker(concurrency=IO_CONCURRENCY)
        server.worker(concurrency=2, pool="prefork", queues="default")
        bench.celery_beat(server.processes, server.env)

        def create(http, index: int) -> int:
            key = uuid.uuid4().hex
            status = 0
            for _attempt in range(10):  # the same key each time: a retry can never make a second order
                try:
                    status = http.post(
                        f"{base_url}/api/v1/orders?exchange=kalshi",
                        content=bench.order_body(index),
                        headers={
                            "X-API-Key": raw_key,
                            "X-Builder-Customer-Id": customer_ids[index % len(customer_ids)],
                            "Idempotency-Key": key,
                            "Content-Type": "application/json",
                        },
                    ).status_code
                except httpx.TransportError:
                    status = 0
                if status == 201:
                    break
                time.sleep(0.2)
            return status

        began = time.monotonic()
        intake = bench.load(create, clients=CLIENTS, seconds=TIMEOUT, max_requests=ORDERS, expect=201)
        intake_seconds = time.monotonic() - began
        deadline = began + TIMEOUT
        while time.monotonic() < deadline:
            if not Order.objects.filter(status__in=IN_FLIGHT).exists():
                break
            time.sleep(1.0)
        settled_seconds = time.monotonic() - began
    finally:
        server.stop()

    by_status = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    ours = set(Order.objects.exclude(parsec_order_id=None).values_list("parsec_order_id", flat=True))
    theirs = set(SimOrder.objects.values_list("id", flat=True))
    lost = Order.objects.filter(parsec_order_id=None).exclude(status="cancelled").count()
    # Every order of the run is a distinct intent (customer, price, size): a second simulator order for
    # one intent is a duplicate. An order the simulator has but none of ours owns yet, whose intent
    # belongs to an order still in doubt, is not a duplicate: it is waiting to be adopted.
    per_intent = SimOrder.objects.values("customer_id", "price", "size").annotate(total=Count("id"))
    duplicated = sum(row["total"] - 1 for row in per_intent if row["total"] > 1)
    unowned = len(theirs - ours)
    dangling = len(ours - theirs)
    faults_seen = dict(
        OrderEvent.objects.filter(to_status__in=["unknown", "queued"])
        .exclude(cause="created")
        .values_list("cause")
        .annotate(total=Count("id"))
        .order_by()
    )
    print(
        f"{ORDERS} Kalshi orders over {CUSTOMERS} customers; "
        f"20% of simulator requests faulted ({FAULT_RATES}); "
        f"gunicorn 2x4, Celery: io worker of {IO_CONCURRENCY} threads (submission, cancel, "
        f"reconciliation) + 2 prefork processes (default), beat; PostgreSQL + Redis"
    )
    print(f"intake: {intake.ok} created in {intake_seconds:.0f} s ({intake.statuses})")
    print(f"every order open or final after {settled_seconds:.0f} s; statuses {by_status}")
    print(f"fault handling on the way: {faults_seen}")
    caught = OrderEvent.objects.filter(cause="duplicate_at_parsec").count()
    print(
        f"lost: {lost}   duplicated at the simulator: {duplicated}   ids unknown to the simulator: {dangling}"
        f"   simulator orders none of ours owns (yet): {unowned}"
    )
    print(f"duplicates caught and cancelled by reconciliation: {caught}")
    if (
        intake.ok != ORDERS
        or lost
        or duplicated
        or dangling
        or Order.objects.filter(status__in=IN_FLIGHT).exists()
    ):
        sys.exit("FAILED: some orders were lost, duplicated or never settled")


if __name__ == "__main__":
    main()
