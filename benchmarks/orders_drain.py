"""The drain: queued orders reaching the simulator through the `io` worker, against the simulator alone.

One run, one server, one database. First the simulator alone: BENCH_CONCURRENCY callers create resting
Kalshi orders straight through the real client (the venue's own rate with that many calls in flight).
Then BENCH_ORDERS orders are posted to the API with no worker running (they wait `queued`), and a
thread-pool worker (the Procfile's `io`, BENCH_CONCURRENCY threads) is started on the submission queue.
The drain's rate is the orders over the span from the first claim to the last order acknowledged by
the simulator, read from the orders' own events (the worker's start-up is not counted). The ratio of
the two is the submission pipeline's own overhead: claim, send, record.

Knobs (environment): BENCH_ORDERS (1000), BENCH_CONCURRENCY (16), BENCH_CUSTOMERS (16),
BENCH_TIMEOUT (600), DATABASE_URL (default .../bench_orders), BROKER_URL (default Redis db 5),
BENCH_IO_PROCESSES (1: worker processes sharing BENCH_CONCURRENCY threads and as many creates in flight),
BENCH_BATCH_SIZE (the workers' ORDER_SUBMIT_BATCH_SIZE; unset: the settings' default).
"""

from __future__ import annotations

import os
import sys
import time

import orders_bench as bench
from harness import cpu_seconds

ORDERS = int(os.environ.get("BENCH_ORDERS", "1000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "16"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
IO_PROCESSES = int(os.environ.get("BENCH_IO_PROCESSES", "1"))
BATCH_SIZE = os.environ.get("BENCH_BATCH_SIZE", "")


def main() -> None:
    server = bench.start_trading_server(customers=CUSTOMERS)
    from django.db.models import Count

    from orders.models import Order, OrderEvent

    try:
        sim = {"base_url": server.sim_url, "api_key": server.sim_key, "parsec_ids": server.parsec_ids()}
        bench.simulator_alone(**sim, orders=200, callers=CONCURRENCY)  # warm-up
        sim_rate = bench.simulator_alone(**sim, orders=ORDERS, callers=CONCURRENCY)
        intake = bench.load(server.creator(), clients=4, seconds=TIMEOUT, max_requests=ORDERS, expect=201)
        if intake.failed:
            sys.exit(f"intake failed for some orders: {intake.statuses}")
        queued = Order.objects.filter(status=Order.Status.QUEUED).count()
        threads = max(1, CONCURRENCY // IO_PROCESSES)
        knobs = {"ORDER_SUBMIT_SEND_THREADS": str(threads)}
        if BATCH_SIZE:
            knobs["ORDER_SUBMIT_BATCH_SIZE"] = BATCH_SIZE
        workers = [server.worker(concurrency=threads, **knobs).pid for _ in range(IO_PROCESSES)]
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and not OrderEvent.objects.filter(to_status="submitting").exists():
            time.sleep(0.05)
        cpu_at_first_claim = cpu_seconds(workers)
        bench.orders_wait_sent(timeout=TIMEOUT)
        worker_cpu = cpu_seconds(workers) - cpu_at_first_claim
    finally:
        server.stop()

    drain = bench.drain_measure()
    by_status = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    print(
        f"{ORDERS} Kalshi orders, {CUSTOMERS} customers, {CONCURRENCY} in flight; gunicorn 2x8 gthread; "
        f"simulator over HTTP, no latency added; database {server.env['DATABASE_URL'].split('://')[0]}"
    )
    print(f"simulator alone, {CONCURRENCY} callers: {sim_rate:.0f} orders/s")
    print(f"intake (no worker running): {intake.per_second:.0f} orders/s; {queued} queued before the drain")
    batch = f", batch size {BATCH_SIZE}" if BATCH_SIZE else ""
    print(
        f"drain, {CONCURRENCY} io threads in {IO_PROCESSES} process(es){batch}: {drain.sent} sent in "
        f"{drain.seconds:.1f} s, {drain.per_second:.0f} orders/s"
    )
    print(f"drain / simulator alone: {drain.per_second / sim_rate:.2f}x")
    # Less sensitive than the rates to other load on the machine: the workers' own cost per order.
    print(f"io workers' CPU from the first claim: {1000 * worker_cpu / max(drain.sent, 1):.1f} ms per order")
    print(f"final statuses: {by_status}")
    if drain.sent < ORDERS:
        sys.exit("not every queued order was sent within the time limit")


if __name__ == "__main__":
    main()
