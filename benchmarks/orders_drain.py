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
import threading
import time
from decimal import Decimal

import orders_bench as bench

ORDERS = int(os.environ.get("BENCH_ORDERS", "1000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", "16"))
TIMEOUT = float(os.environ.get("BENCH_TIMEOUT", "600"))
IO_PROCESSES = int(os.environ.get("BENCH_IO_PROCESSES", "1"))
BATCH_SIZE = os.environ.get("BENCH_BATCH_SIZE", "")


def simulator_alone(*, base_url: str, api_key: str, parsec_ids: list[str], orders: int) -> float:
    """Orders per second the simulator takes from CONCURRENCY callers, each order a distinct resting buy."""
    from parsec.client import ParsecClient

    done, errors, lock = [0], [], threading.Lock()
    counter = iter(range(10**9))

    def caller(index: int) -> None:
        with ParsecClient(base_url=base_url, api_key=api_key, read_timeout=30.0) as client:
            while True:
                with lock:
                    if done[0] + len(errors) >= orders:
                        return
                    number = next(counter)
                body = {
                    "market_id": bench.KALSHI_MARKET,
                    "outcome": "Yes",
                    "side": "buy",
                    "price": Decimal("0.01"),
                    "size": Decimal(100_000 + number),
                }
                try:
                    client.create_order(
                        exchange="kalshi", customer_id=parsec_ids[index % len(parsec_ids)], body=body
                    )
                except Exception as error:  # noqa: BLE001 - a benchmark counts failures instead of stopping
                    with lock:
                        errors.append(type(error).__name__)
                    continue
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(CONCURRENCY)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        sys.exit(f"the simulator refused {len(errors)} orders: {sorted(set(errors))}")
    return done[0] / elapsed


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far (Linux /proc), all their threads included."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


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
    from django.db.models import Count, Max, Min

    from customers.models import Customer
    from orders.models import Order, OrderEvent

    processes = bench.Processes()
    try:
        server = bench.gunicorn(processes, env, port, workers=2, threads=8)
        bench.wait_until_up(base_url, server)
        raw_key, customer_ids = bench.seed_trader(base_url=base_url, customers=CUSTOMERS)
        customers = Customer.objects.filter(id__in=customer_ids)
        parsec_ids = list(customers.values_list("parsec_customer_id", flat=True))
        sim_url, sim_key = f"{base_url}/sim/api/v1", env["PARSEC_SIMULATOR_API_KEY"]
        simulator_alone(base_url=sim_url, api_key=sim_key, parsec_ids=parsec_ids, orders=200)  # warm-up
        sim_rate = simulator_alone(base_url=sim_url, api_key=sim_key, parsec_ids=parsec_ids, orders=ORDERS)

        create = bench.order_creator(base_url=base_url, raw_key=raw_key, customer_ids=customer_ids)

        intake = bench.load(create, clients=4, seconds=TIMEOUT, max_requests=ORDERS, expect=201)
        if intake.failed:
            sys.exit(f"intake failed for some orders: {intake.statuses}")
        queued = Order.objects.filter(status=Order.Status.QUEUED).count()
        threads = max(1, CONCURRENCY // IO_PROCESSES)
        worker_env = {**env, "ORDER_SUBMIT_SEND_THREADS": str(threads)}
        if BATCH_SIZE:
            worker_env["ORDER_SUBMIT_BATCH_SIZE"] = BATCH_SIZE
        workers = []
        for _ in range(IO_PROCESSES):
            worker = bench.celery_worker(
                processes,
                worker_env,
                concurrency=threads,
                queues="submission,cancel,reconciliation",
                pool="threads",
            )
            workers.append(worker.pid)
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline and not OrderEvent.objects.filter(to_status="submitting").exists():
            time.sleep(0.05)
        cpu_at_first_claim = cpu_seconds(workers)
        while time.monotonic() < deadline:
            if not Order.objects.filter(status__in=[Order.Status.QUEUED, Order.Status.SUBMITTING]).exists():
                break
            time.sleep(0.25)
        worker_cpu = cpu_seconds(workers) - cpu_at_first_claim
    finally:
        processes.stop_all()
        bench.purge_broker(broker_url)

    claims = OrderEvent.objects.filter(to_status="submitting").aggregate(first=Min("created_at"))
    placed = OrderEvent.objects.filter(from_status="submitting").exclude(to_status="queued")
    last = placed.aggregate(last=Max("created_at"))["last"]
    sent = placed.values("order_id").distinct().count()
    span = (last - claims["first"]).total_seconds() if last and claims["first"] else 0.0
    drain_rate = sent / span if span else 0.0
    by_status = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    print(
        f"{ORDERS} Kalshi orders, {CUSTOMERS} customers, {CONCURRENCY} in flight; gunicorn 2x8 gthread; "
        f"simulator over HTTP, no latency added; database {env['DATABASE_URL'].split('://')[0]}"
    )
    print(f"simulator alone, {CONCURRENCY} callers: {sim_rate:.0f} orders/s")
    print(f"intake (no worker running): {intake.per_second:.0f} orders/s; {queued} queued before the drain")
    batch = f", batch size {BATCH_SIZE}" if BATCH_SIZE else ""
    print(
        f"drain, {CONCURRENCY} io threads in {IO_PROCESSES} process(es){batch}: "
        f"{sent} sent in {span:.1f} s, {drain_rate:.0f} orders/s"
    )
    print(f"drain / simulator alone: {drain_rate / sim_rate:.2f}x")
    # Less sensitive than the rates to other load on the machine: the workers' own cost per order.
    print(f"io workers' CPU from the first claim: {1000 * worker_cpu / max(sent, 1):.1f} ms per order sent")
    print(f"final statuses: {by_status}")
    if sent < ORDERS:
        sys.exit("not every queued order was sent within the time limit")


if __name__ == "__main__":
    main()
