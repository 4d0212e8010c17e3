"""Time from a global trading halt being committed to the first refused order create in another process.

Migrates a fresh PostgreSQL database (DATABASE_URL, default .../bench_halts), starts gunicorn (2 gthread
workers, the product and the simulator) on a free loopback port and seeds a partner with an active
customer. Client threads then create Kalshi orders through the API in a loop while this process sets a
global halt through the service (as the admin does) and lifts it again, BENCH_TRIALS times. For each trial
it records the time from the halt's commit to the first 503 trading_halted answer, and counts creates
*sent* after the commit that were still accepted (must be 0). Prints p50 and max over the trials.

Knobs (environment): BENCH_TRIALS (10), BENCH_CLIENTS (2), BENCH_WORKERS (2), BENCH_THREADS (2).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import threading
import time
import uuid

import httpx
import orders_bench as bench

TRIALS = int(os.environ.get("BENCH_TRIALS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def _client(base_url, headers, first_index, answers, lock, stop) -> None:
    """Create orders until one is refused for the halt (or `stop`), recording each answer's times."""
    with httpx.Client(timeout=30) as http:
        sequence = first_index
        while not stop.is_set():
            sequence += 1
            sent = time.monotonic()
            response = http.post(
                f"{base_url}/api/v1/orders?exchange=kalshi",
                content=bench.order_body(sequence),
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            answered = time.monotonic()
            code = response.json().get("code", "") if response.status_code != 201 else ""
            with lock:
                answers.append((sent, answered, response.status_code, code))
            if code == "trading_halted":
                return


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_halts")
    broker_url = os.environ.get("BROKER_URL", bench.DEFAULT_BROKER_URL)
    bench.recreate_database(database_url)
    bench.purge_broker(broker_url)
    port = bench.free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Plain HTTP on the loopback, as in the other benchmarks' servers.
    env = bench.environment(
        database_url=database_url, broker_url=broker_url, port=port, SECURE_SSL_REDIRECT="0"
    )
    bench.migrate(env)
    bench.django_setup(env)
    from django.utils import timezone

    from audit.services import Actor
    from halts.models import TradingHalt
    from halts.services import trading_halt_lift, trading_halt_set

    processes = bench.Processes()
    latencies: list[float] = []
    accepted_after_commit = 0
    try:
        server = bench.gunicorn(processes, env, port, workers=WORKERS, threads=THREADS)
        bench.wait_until_up(base_url, server)
        raw_key, (customer_id,) = bench.seed_trader(base_url=base_url, prefix="halt")
        headers = {
            "X-API-Key": raw_key,
            "X-Builder-Customer-Id": customer_id,
            "Content-Type": "application/json",
        }
        actor = Actor.system("halt latency benchmark")

        for trial in range(TRIALS):
            committed_at: list[float] = []  # set once the halt's transaction has committed
            answers: list[tuple[float, float, int, str]] = []  # sent, answered, status, code
            lock, stop = threading.Lock(), threading.Event()

            threads = [
                threading.Thread(
                    target=_client,
                    args=(base_url, headers, trial * 100_000 + index * 10_000, answers, lock, stop),
                )
                for index in range(CLIENTS)
            ]
            for thread in threads:
                thread.start()
            time.sleep(random.uniform(0.3, 0.6))  # orders flowing before the halt
            trading_halt_set(
                scope="global", reason=f"benchmark trial {trial}", actor=actor, now=timezone.now()
            )
            committed_at.append(time.monotonic())  # the service's transaction has committed on return
            for thread in threads:
                thread.join(timeout=30)
            stop.set()
            commit = committed_at[0]
            refused = [answered for sent, answered, status, code in answers if code == "trading_halted"]
            if not refused:
                sys.exit(f"trial {trial}: no create was refused after the halt")
            latencies.append(min(refused) - commit)
            accepted_after_commit += sum(
                1 for sent, _, status, _ in answers if status == 201 and sent > commit
            )
            other = {
                (status, code) for _, _, status, code in answers if status != 201 and code != "trading_halted"
            }
            if other:
                sys.exit(f"trial {trial}: unexpected answers {other}")
            halt = TradingHalt.objects.get(lifted_at__isnull=True)
            trading_halt_lift(halt=halt, actor=actor, now=timezone.now())
    finally:
        processes.stop_all()
        bench.purge_broker(broker_url)

    print(
        f"gunicorn: {WORKERS} gthread workers x {THREADS} threads; {CLIENTS} client threads creating Kalshi "
        f"orders; {TRIALS} trials; PostgreSQL, DEBUG off"
    )
    print(
        f"global halt committed -> first refused create (in a server process): "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms"
    )
    print(f"creates sent after the halt committed and still accepted: {accepted_after_commit}")
    if accepted_after_commit:
        sys.exit(1)


if __name__ == "__main__":
    main()
