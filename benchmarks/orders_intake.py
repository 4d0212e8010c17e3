"""Requests per second of POST /api/v1/orders (Kalshi, no fee) under gunicorn, against a bare INSERT view.

Through orders_bench.start_trading_server: migrates a fresh PostgreSQL database (DATABASE_URL, default
.../bench_orders), starts gunicorn (2 gthread
workers) on a free loopback port serving the product, the simulator and a benchmark-only view that does one
INSERT, seeds a partner and an active customer, then sends, for a bounded time and count, first the bare
INSERT and then order creations (each with its own Idempotency-Key; every order is enqueued on the broker,
BROKER_URL, default Redis db 5, which is emptied first and after), in BENCH_ROUNDS alternating rounds: on a
machine shared with other work, a load that comes and goes then weighs on both rates alike, not on one.
Prints both rates, their ratio, and the gunicorn workers' CPU (user + system) per request of each.

Knobs (environment): BENCH_SECONDS (10 per endpoint, split over the rounds), BENCH_ROUNDS (5),
BENCH_CLIENTS (4), BENCH_MAX_REQUESTS (20000 per endpoint), BENCH_WORKERS (2), BENCH_THREADS (2 per worker).
"""

from __future__ import annotations

import os
import statistics
import sys
import uuid

import httpx
import orders_bench as bench
from harness import child_pids, cpu_seconds

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "20000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "5")))
WARM_UP_REQUESTS = 20  # sequential, before the timed load; enough to reach every worker


def main() -> None:
    server = bench.start_trading_server(
        customers=1, app="orders_site:application", workers=WORKERS, threads=THREADS
    )
    base_url, broker_url = server.base_url, server.broker_url
    try:
        raw_key, (customer_id,) = server.raw_key, server.customer_ids
        headers = {
            "X-API-Key": raw_key,
            "X-Builder-Customer-Id": customer_id,
            "Content-Type": "application/json",
        }
        # Sequential warm-up, so that every worker has read Parsec's /exchanges and the market into its
        # own cache before the load: under load, a cold worker's call to the simulator (served by these
        # same threads) can wait for a free thread until it times out, which measures the set-up, not
        # the intake.
        for _ in range(WARM_UP_REQUESTS):
            probe = httpx.post(
                f"{base_url}/api/v1/orders?exchange=kalshi",
                content=bench.order_body(0),
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
                timeout=10,
            )
            if probe.status_code != 201:
                sys.exit(f"POST /api/v1/orders answered {probe.status_code}: {probe.text[:300]}")

        def bare(http, index: int) -> int:
            return http.post(f"{base_url}/bench/bare-insert", content=bench.order_body(index)).status_code

        def create(http, index: int) -> int:
            return http.post(
                f"{base_url}/api/v1/orders?exchange=kalshi",
                content=bench.order_body(index),
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            ).status_code

        results = {
            "bare view, one INSERT": bench.LoadResult(),
            "POST /api/v1/orders (kalshi)": bench.LoadResult(),
        }
        cpu = dict.fromkeys(results, 0.0)  # the gunicorn workers' CPU seconds spent on each endpoint
        workers = child_pids(server.processes.started[0].pid)
        for _ in range(ROUNDS):
            for name, send in zip(results, (bare, create), strict=True):
                cpu_before = cpu_seconds(workers)
                _merge(
                    results[name],
                    bench.load(
                        send,
                        clients=CLIENTS,
                        seconds=SECONDS / ROUNDS,
                        max_requests=MAX_REQUESTS // ROUNDS,
                        expect=201,
                    ),
                )
                cpu[name] += cpu_seconds(workers) - cpu_before
    finally:
        server.stop()

    print(
        f"gunicorn: {WORKERS} gthread workers x {THREADS} threads; {CLIENTS} client threads; "
        f"{SECONDS:g} s or {MAX_REQUESTS} requests per endpoint in {ROUNDS} alternating rounds; PostgreSQL, "
        f"DEBUG off, broker {broker_url}"
    )
    for name, result in results.items():
        p50 = statistics.median(result.latencies) * 1000 if result.latencies else 0.0
        print(
            f"{name:32} {result.per_second:8.0f} req/s  ({result.ok} ok, {result.failed} failed, "
            f"p50 {p50:.2f} ms, p99 {result.percentile(0.99):.2f} ms, "
            f"workers' CPU {1000 * cpu[name] / max(result.ok + result.failed, 1):.2f} ms per request)"
        )
    bare_result, create_result = results.values()
    if bare_result.failed or create_result.failed:
        sys.exit(f"some requests failed ({create_result.statuses}); the figures are not comparable")
    print(f"ratio order intake / bare INSERT: {create_result.per_second / bare_result.per_second:.2f}")


def _merge(total: bench.LoadResult, part: bench.LoadResult) -> None:
    total.ok += part.ok
    total.failed += part.failed
    total.elapsed += part.elapsed
    total.latencies += part.latencies
    for status, count in part.statuses.items():
        total.statuses[status] = total.statuses.get(status, 0) + count


if __name__ == "__main__":
    main()
