"""What metrics and JSON logging cost order intake: POST /api/v1/orders req/s with both off, then on.

Same run, same database and broker: gunicorn (2 gthread workers) is started with METRICS_ENABLED=0 and
LOG_FORMAT=text, then with METRICS_ENABLED=1 and LOG_FORMAT=json (a setting that takes effect once the
JSON log format exists; until then only metrics differ), alternating for BENCH_ROUNDS rounds so a
warming machine does not favour one side. Each server gets an untimed warm-up first. Prints each
round, the medians and the ratio on / off.

Knobs (environment): BENCH_SECONDS (8 per round), BENCH_CLIENTS (4), BENCH_MAX_REQUESTS (20000),
BENCH_ROUNDS (2), BENCH_WORKERS (2), BENCH_THREADS (2 per worker).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import uuid

import orders_bench as bench

SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
WARM_UP_REQUESTS = 50
SIDES = {
    "off": {"METRICS_ENABLED": "0", "LOG_FORMAT": "text"},
    "on": {"METRICS_ENABLED": "1", "LOG_FORMAT": "json"},
}


def intake_rate(env: dict[str, str], *, port: int, seed: dict | None) -> tuple[float, dict, int]:
    """(req/s, the trader's headers, requests that failed) of one server started with `env`."""
    processes = bench.Processes()
    base_url = f"http://127.0.0.1:{port}"
    try:
        server = bench.gunicorn(processes, env, port, workers=WORKERS, threads=THREADS)
        bench.wait_until_up(base_url, server)
        if seed is None:
            raw_key, (customer_id,) = bench.seed_trader(base_url=base_url)
            seed = {
                "X-API-Key": raw_key,
                "X-Builder-Customer-Id": customer_id,
                "Content-Type": "application/json",
            }

        def create(http, index: int) -> int:
            return http.post(
                f"{base_url}/api/v1/orders?exchange=kalshi",
                content=bench.order_body(index),
                headers={**seed, "Idempotency-Key": uuid.uuid4().hex},
            ).status_code

        # One client: a worker's first order asks the simulator (this same server) for its exchanges and
        # market; with every thread waiting on such a call at once, none would be left to answer it.
        warm = bench.load(create, clients=1, seconds=SECONDS, max_requests=WARM_UP_REQUESTS, expect=201)
        if warm.failed:
            sys.exit(f"warm-up requests failed: {warm.statuses}")
        result = bench.load(create, clients=CLIENTS, seconds=SECONDS, max_requests=MAX_REQUESTS, expect=201)
        return result.per_second, seed, result.failed
    finally:
        processes.stop_all()


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", bench.DEFAULT_DATABASE_URL)
    broker_url = os.environ.get("BROKER_URL", bench.DEFAULT_BROKER_URL)
    bench.recreate_database(database_url)
    bench.purge_broker(broker_url)
    # One port for every server of the run: the simulator's address is in the settings they share.
    port = bench.free_port()
    env = bench.environment(
        database_url=database_url, broker_url=broker_url, port=port, SECURE_SSL_REDIRECT="0"
    )
    metrics_dir = bench.ROOT / "var" / "bench-orders" / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    bench.migrate(env)
    bench.django_setup(env)  # seeding the trader uses the services
    rates: dict[str, list[float]] = {side: [] for side in SIDES}
    seed = None
    failed = 0
    try:
        for round_number in range(ROUNDS):
            # Alternate which side goes first, so neither always runs on the warmer machine.
            order = list(SIDES) if round_number % 2 == 0 else list(reversed(SIDES))
            for side in order:
                rate, seed, round_failed = intake_rate({**env, **SIDES[side]}, port=port, seed=seed)
                failed += round_failed
                rates[side].append(rate)
                print(f"round {round_number + 1} metrics+json logs {side:3}: {rate:8.0f} req/s", flush=True)
    finally:
        bench.purge_broker(broker_url)
    print(
        f"gunicorn: {WORKERS} gthread workers x {THREADS} threads; {CLIENTS} client threads; "
        f"{SECONDS:g} s or {MAX_REQUESTS} requests per round; PostgreSQL, DEBUG off, broker {broker_url}"
    )
    off, on = statistics.median(rates["off"]), statistics.median(rates["on"])
    print(f"median off {off:.0f} req/s, on {on:.0f} req/s")
    if failed:
        sys.exit(f"{failed} requests failed; the figures are not comparable")
    print(f"ratio on / off: {on / off:.2f}")


if __name__ == "__main__":
    main()
