"""Every figure of issue 15 from one run: drain, end to end, intake, latency under load, the Parsec budget.

Each ratio is measured side by side on the same server, database and machine, so it means something on a
contended machine where the absolute rates do not. Three platforms are started in turn (each on a fresh
database, each stopped before the next):

1. PostgreSQL + Redis (DATABASE_URL, default .../bench_orders, recreated; BROKER_URL, default Redis db 5):
   - the simulator alone: BENCH_CONCURRENCY callers creating resting orders through the real client;
   - the drain: BENCH_ORDERS orders posted with no worker (they wait `queued`), then one thread-pool worker
     (the Procfile's `io`, BENCH_CONCURRENCY threads) drains them; the span runs from the first claim to
     the last answer, read from the orders' events;
   - end to end: the worker running, BENCH_ORDERS more orders posted by BENCH_CLIENTS client threads as
     fast as intake takes them; orders/s from the first created to the last open at the simulator;
   - intake against the bare INSERT view (one INSERT, nothing else), BENCH_INTAKE_SECONDS each, no worker;
   - latency under a steady offered load below saturation: BENCH_RATE orders/s for BENCH_RATE_SECONDS,
     each order's creation -> open at the simulator, p50 and p99.
2. The embedded mode (SQLite + filesystem broker in a temporary directory, the shared store in the
   database): the simulator alone, the drain and end to end again, BENCH_EMBEDDED_ORDERS orders,
   BENCH_EMBEDDED_CONCURRENCY io threads (the settings' SQLite default is 4).
3. PostgreSQL + Redis with the simulator's pool at BENCH_QPS (PARSEC_SIM_POOL_QPS) and the platform's
   budget on at the same figure (PARSEC_RATE_LIMIT_ENABLED, PARSEC_POOL_QPS), an io worker of
   BENCH_BUDGET_CONCURRENCY threads draining BENCH_BUDGET_ORDERS queued orders: the simulator's most
   requests in any one second (<= BENCH_QPS), the 429s it answered (<= 1% of calls) and orders/s (goal
   >= 0.9 x BENCH_QPS). Then the
   budget's own ceiling: BENCH_BUDGET_CONCURRENCY callers through a client holding the shared budget,
   straight at the simulator (no orders pipeline), calls/s and the same two checks.

Knobs (environment): BENCH_ORDERS (2000), BENCH_CONCURRENCY (16), BENCH_CLIENTS (4), BENCH_CUSTOMERS (16),
BENCH_INTAKE_SECONDS (10), BENCH_RATE (50), BENCH_RATE_SECONDS (60), BENCH_EMBEDDED_ORDERS (1000),
BENCH_EMBEDDED_CONCURRENCY (4), BENCH_QPS (100), BENCH_BUDGET_ORDERS (2000), BENCH_BUDGET_CONCURRENCY (32),
BENCH_IO_PROCESSES (2: io worker processes on PostgreSQL sharing each part's threads, as the README's
production section runs them; the embedded mode always runs one), BENCH_TIMEOUT (600, per wait),
BENCH_PARTS (all of "postgres,embedded,budget"). BENCH_SMOKE=1 sets small
counts (a couple of minutes on an idle machine; the figures then only show that every part runs).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_orders BROKER_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python benchmarks/throughput.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import httpx
import orders_bench as bench

SMOKE = os.environ.get("BENCH_SMOKE", "") not in ("", "0")


def knob(name: str, full: str, smoke: str) -> str:
    return os.environ.get(name, smoke if SMOKE else full)


ORDERS = int(knob("BENCH_ORDERS", "2000", "150"))
CONCURRENCY = int(knob("BENCH_CONCURRENCY", "16", "16"))
CLIENTS = int(knob("BENCH_CLIENTS", "4", "4"))
CUSTOMERS = int(knob("BENCH_CUSTOMERS", "16", "4"))
INTAKE_SECONDS = float(knob("BENCH_INTAKE_SECONDS", "10", "3"))
RATE = float(knob("BENCH_RATE", "50", "20"))
RATE_SECONDS = float(knob("BENCH_RATE_SECONDS", "60", "5"))
EMBEDDED_ORDERS = int(knob("BENCH_EMBEDDED_ORDERS", "1000", "80"))
EMBEDDED_CONCURRENCY = int(knob("BENCH_EMBEDDED_CONCURRENCY", "4", "4"))
QPS = int(knob("BENCH_QPS", "100", "100"))
BUDGET_ORDERS = int(knob("BENCH_BUDGET_ORDERS", "2000", "200"))
BUDGET_CONCURRENCY = int(knob("BENCH_BUDGET_CONCURRENCY", "32", "32"))
TIMEOUT = float(knob("BENCH_TIMEOUT", "600", "120"))
PARTS = set(knob("BENCH_PARTS", "postgres,embedded,budget", "postgres,embedded,budget").split(","))
IO_PROCESSES = int(knob("BENCH_IO_PROCESSES", "2", "2"))
WARM_UP_ORDERS = 20

lines: list[str] = []
failures: list[str] = []


def say(line: str) -> None:
    """Printed at once (a long run shows its progress) and again in the summary at the end."""
    print(line, flush=True)
    lines.append(line)


def database_now():
    from django.utils import timezone

    return timezone.now()


def post_queued(server: bench.TradingServer, *, count: int, offset: int) -> bench.LoadResult:
    """`count` orders through the API as fast as BENCH_CLIENTS threads can, indices from `offset`."""
    create = server.creator()
    result = bench.load(
        lambda http, index: create(http, offset + index),
        clients=CLIENTS,
        seconds=TIMEOUT,
        max_requests=count,
        expect=201,
    )
    if result.failed:
        sys.exit(f"intake failed for some orders: {result.statuses}")
    return result


def warm_up(server: bench.TradingServer) -> None:
    """A few orders end to end, so the ratios do not count a cold worker's or server's first calls."""
    since = database_now()
    post_queued(server, count=WARM_UP_ORDERS, offset=10_000_000)
    if not bench.orders_wait_sent(timeout=TIMEOUT, since=since):
        sys.exit("the warm-up orders were never sent")


def io_workers(server: bench.TradingServer, *, concurrency: int, processes: int) -> list:
    """`processes` io workers sharing `concurrency` threads (each its own send pool of as many)."""
    threads = max(1, concurrency // processes)
    return [
        server.worker(concurrency=threads, ORDER_SUBMIT_SEND_THREADS=str(threads)) for _ in range(processes)
    ]


def drain_and_end_to_end(server: bench.TradingServer, *, orders: int, concurrency: int, processes: int):
    """The simulator alone, the drain and end to end; returns the io workers (left running)."""
    sim_rate = bench.simulator_alone(
        base_url=server.sim_url,
        api_key=server.sim_key,
        parsec_ids=server.parsec_ids(),
        orders=orders,
        callers=concurrency,
    )
    say(f"[{server.mode}] simulator alone, {concurrency} callers: {sim_rate:.0f} orders/s")

    since = database_now()
    intake = post_queued(server, count=orders, offset=0)
    workers = io_workers(server, concurrency=concurrency, processes=processes)
    if not bench.orders_wait_sent(timeout=TIMEOUT, since=since):
        failures.append(f"[{server.mode}] the drain did not send every order in {TIMEOUT:g} s")
    drain = bench.drain_measure(since=since)
    say(
        f"[{server.mode}] drain, {concurrency} io threads in {processes} process(es): {drain.sent} in "
        f"{drain.seconds:.1f} s = "
        f"{drain.per_second:.0f} orders/s (intake before it, no worker: {intake.per_second:.0f}/s)"
    )
    say(f"[{server.mode}] RATIO drain / simulator alone: {drain.per_second / sim_rate:.2f}x (goal >= 0.8)")

    for worker in workers:
        if worker.poll() is not None:
            sys.exit(f"an io worker exited with {worker.returncode}")
    warm_up(server)
    since = database_now()
    intake = post_queued(server, count=orders, offset=orders)
    deadline = time.monotonic() + TIMEOUT
    from orders.models import Order

    while time.monotonic() < deadline:
        if Order.objects.filter(created_at__gte=since, status="open").count() >= orders:
            break
        time.sleep(0.25)
    latencies, span = bench.open_latencies(since=since)
    rate = len(latencies) / span if span else 0.0
    p50, p99 = bench.percentile(latencies, 0.5) * 1000, bench.percentile(latencies, 0.99) * 1000
    say(
        f"[{server.mode}] end to end ({CLIENTS} clients posting, the worker running): {len(latencies)} open "
        f"in {span:.1f} s = {rate:.0f} orders/s (intake {intake.per_second:.0f}/s); creation -> open "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"
    )
    say(f"[{server.mode}] RATIO end to end / simulator alone: {rate / sim_rate:.2f}x (goal >= 0.4)")
    if len(latencies) < orders:
        failures.append(f"[{server.mode}] end to end: {len(latencies)} of {orders} open in time")
    return workers


def intake_against_bare(server: bench.TradingServer) -> None:
    headers = {"X-API-Key": server.raw_key, "Content-Type": "application/json"}

    def bare(http: httpx.Client, index: int) -> int:
        return http.post(f"{server.base_url}/bench/bare-insert", content=bench.order_body(index)).status_code

    def create(http: httpx.Client, index: int) -> int:
        return http.post(
            f"{server.base_url}/api/v1/orders?exchange=kalshi",
            content=bench.order_body(20_000_000 + index),
            headers={
                **headers,
                "X-Builder-Customer-Id": server.customer_ids[index % len(server.customer_ids)],
                "Idempotency-Key": uuid.uuid4().hex,
            },
        ).status_code

    results = {}
    for name, send in (("bare INSERT view", bare), ("POST /api/v1/orders", create)):
        results[name] = bench.load(
            send, clients=CLIENTS, seconds=INTAKE_SECONDS, max_requests=10**6, expect=201
        )
        result = results[name]
        say(
            f"[{server.mode}] {name}: {result.per_second:.0f} req/s ({result.ok} ok, {result.failed} failed, "
            f"p50 {result.percentile(0.5):.1f} ms, p99 {result.percentile(0.99):.1f} ms)"
        )
    bare_result, create_result = results.values()
    if bare_result.failed or create_result.failed:
        failures.append(f"[{server.mode}] some intake requests failed: {create_result.statuses}")
    say(
        f"[{server.mode}] RATIO intake / bare INSERT: "
        f"{create_result.per_second / bare_result.per_second:.2f}x (goal >= 0.4, aim 0.5)"
    )


def latency_at_steady_load(server: bench.TradingServer) -> None:
    since = database_now()
    create = server.creator()
    offered = bench.load_at_rate(
        lambda http, index: create(http, 30_000_000 + index),
        per_second=RATE,
        seconds=RATE_SECONDS,
        clients=max(CLIENTS, 8),
        expect=201,
    )
    bench.orders_wait_sent(timeout=TIMEOUT, since=since)
    from orders.models import Order

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if Order.objects.filter(created_at__gte=since, status="open").count() >= offered.ok:
            break
        time.sleep(0.25)
    latencies, _span = bench.open_latencies(since=since)
    p50, p99 = bench.percentile(latencies, 0.5), bench.percentile(latencies, 0.99)
    say(
        f"[{server.mode}] steady load {RATE:g} orders/s offered for {RATE_SECONDS:g} s: {offered.ok} created "
        f"({offered.ok / offered.elapsed:.1f}/s achieved), {len(latencies)} open; creation -> open "
        f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms (goal p99 < 1000 ms)"
    )
    if offered.failed:
        failures.append(f"[{server.mode}] steady load: some creations failed: {offered.statuses}")


def rate_stats(server: bench.TradingServer) -> dict:
    return httpx.get(
        f"{server.sim_url}/sim/rate-stats", headers={"X-API-Key": server.sim_key}, timeout=30
    ).json()


def rate_stats_reset(server: bench.TradingServer) -> None:
    httpx.delete(
        f"{server.sim_url}/sim/rate-stats", headers={"X-API-Key": server.sim_key}, timeout=30
    ).raise_for_status()


def budget_checks(name: str, stats: dict) -> None:
    refused_share = stats["refused"] / stats["received"] if stats["received"] else 0.0
    say(
        f"[budget] {name}: busiest second {stats['max_received_in_one_second']} received "
        f"(limit {QPS}); 429s {stats['refused']} of {stats['received']} calls "
        f"({refused_share:.2%}, goal <= 1%)"
    )
    if stats["max_received_in_one_second"] > QPS:
        failures.append(f"[budget] {name}: more than {QPS} requests in one second")
    if refused_share > 0.01:
        failures.append(f"[budget] {name}: more than 1% of calls answered 429")


def budget_ceiling(server: bench.TradingServer, *, calls: int) -> float:
    """Calls/s that BENCH_BUDGET_CONCURRENCY callers get through the shared budget, straight at the simulator:
    what the budget lets through when the orders pipeline is not what limits."""
    from parsec.client import ParsecClient, ParsecUnavailable
    from ratelimits.parsec_budget import budget_from_settings

    parsec_ids = server.parsec_ids()
    done, refused, lock = [0], [0], threading.Lock()
    counter = iter(range(calls))
    budget = budget_from_settings()
    asked = [0]
    take_from_store = budget.try_acquire

    def try_acquire_counted(**kwargs):
        with lock:
            asked[0] += 1
        return take_from_store(**kwargs)

    budget.try_acquire = try_acquire_counted  # counts the round trips to the shared store
    with ParsecClient(
        base_url=server.sim_url, api_key=server.sim_key, limiter=budget, read_timeout=30
    ) as client:

        def caller(index: int) -> None:
            while True:
                with lock:
                    number = next(counter, None)
                if number is None:
                    return
                try:
                    client.create_order(
                        exchange="kalshi",
                        customer_id=parsec_ids[index % len(parsec_ids)],
                        body=bench.resting_buy(40_000_000 + number),
                    )
                except ParsecUnavailable:
                    with lock:
                        refused[0] += 1
                    continue
                with lock:
                    done[0] += 1

        threads = [threading.Thread(target=caller, args=(index,)) for index in range(BUDGET_CONCURRENCY)]
        began, cpu_began = time.perf_counter(), time.process_time()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began
    say(
        f"[budget] ceiling: {asked[0] / max(done[0], 1):.2f} store round trips per call, "
        f"{cpu * 1000 / max(done[0], 1):.2f} ms CPU per call in the callers' process"
        + (f"; {refused[0]} calls refused (ours or a 429)" if refused[0] else "")
    )
    return done[0] / elapsed


def shared_budget_under_a_limited_pool() -> None:
    server = bench.start_trading_server(
        customers=CUSTOMERS,
        PARSEC_SIM_POOL_QPS=str(QPS),
        PARSEC_RATE_LIMIT_ENABLED="1",
        PARSEC_POOL_QPS=str(QPS),
    )
    try:
        since = database_now()
        post_queued(server, count=BUDGET_ORDERS, offset=0)
        rate_stats_reset(server)  # the drain alone is counted
        workers = io_workers(server, concurrency=BUDGET_CONCURRENCY, processes=IO_PROCESSES)
        if not bench.orders_wait_sent(timeout=TIMEOUT, since=since):
            failures.append("[budget] not every queued order was sent within the time limit")
        drain = bench.drain_measure(since=since)
        stats = rate_stats(server)
        say(
            f"[budget] simulator pool {QPS} QPS, PARSEC_POOL_QPS {QPS}, {BUDGET_CONCURRENCY} io threads in "
            f"{IO_PROCESSES} process(es): "
            f"{drain.sent} orders in {drain.seconds:.1f} s = {drain.per_second:.1f} orders/s "
            f"(goal >= {0.9 * QPS:.0f}); {stats['received'] / max(drain.sent, 1):.2f} calls per order"
        )
        budget_checks("drain", stats)
        for worker in workers:
            server.processes.stop(worker)
        rate_stats_reset(server)
        ceiling = budget_ceiling(server, calls=BUDGET_ORDERS)
        say(
            f"[budget] ceiling, {BUDGET_CONCURRENCY} callers through the shared budget: {ceiling:.1f} calls/s"
        )
        budget_checks("ceiling", rate_stats(server))
    finally:
        server.stop()


def part_run(part: str) -> None:
    """One part in this process: Django is set up once per process, on that part's database."""
    if part == "postgres":
        server = bench.start_trading_server(customers=CUSTOMERS, app="orders_site:application")
        try:
            bench.simulator_alone(
                base_url=server.sim_url,
                api_key=server.sim_key,
                parsec_ids=server.parsec_ids(),
                orders=200,
                callers=CONCURRENCY,
            )  # warm-up of the server's processes
            workers = drain_and_end_to_end(
                server, orders=ORDERS, concurrency=CONCURRENCY, processes=IO_PROCESSES
            )
            latency_at_steady_load(server)
            for worker in workers:
                server.processes.stop(worker)  # intake and the bare view alone, as in orders_intake.py
            intake_against_bare(server)
        finally:
            server.stop()
    elif part == "embedded":
        server = bench.start_trading_server(mode="embedded", customers=CUSTOMERS)
        try:
            bench.simulator_alone(
                base_url=server.sim_url,
                api_key=server.sim_key,
                parsec_ids=server.parsec_ids(),
                orders=50,
                callers=EMBEDDED_CONCURRENCY,
            )
            # One process: SQLite has one writer, which a second process would only queue behind.
            drain_and_end_to_end(
                server, orders=EMBEDDED_ORDERS, concurrency=EMBEDDED_CONCURRENCY, processes=1
            )
        finally:
            server.stop()
    elif part == "budget":
        shared_budget_under_a_limited_pool()
    else:
        sys.exit(f"unknown part {part!r}")


def main() -> None:
    if os.environ.get("BENCH_THROUGHPUT_PART"):
        part_run(os.environ["BENCH_THROUGHPUT_PART"])
        if failures:
            sys.exit("FAILED: " + "; ".join(failures))
        return
    say(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    for part in ("postgres", "embedded", "budget"):
        if part not in PARTS:
            continue
        child = subprocess.run(
            [sys.executable, __file__],
            env={**os.environ, "BENCH_THROUGHPUT_PART": part},
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        lines.extend(line for line in child.stdout.splitlines() if line.startswith("["))
        if child.returncode:
            failures.append(f"part {part} exited with {child.returncode}")
        say(f"load average after {part}: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    print("\n--- summary ---")
    print("\n".join(lines))
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


if __name__ == "__main__":
    main()
