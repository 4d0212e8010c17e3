"""Webhook delivery under faults, and what writing events adds to order intake, in one run.

Migrates a fresh PostgreSQL database (DATABASE_URL, default .../bench_webhooks), empties its own Redis
database (BROKER_URL, default db 7), starts gunicorn (the product and the simulator) and a local receiver
in this process that fails 30% of requests (a third each: 500, a hold past the sender's timeout, a reset
connection) and verifies every signature.

1. Intake: POST /api/v1/orders for BENCH_SECONDS without a webhook endpoint, then with one subscribed to
   every event (each order then also writes a delivery row and sends a message): req/s and their ratio.
2. Baseline: signed POSTs straight to the receiver's healthy path from 4 threads (no queue, no database):
   the receiver's own capacity.
3. Delivery: Celery workers on the `webhooks` queue; 10,000 `ping` events committed in batches of 100;
   deliveries/s (first commit to last first success), p50/p99 from an event's commit to its first
   successful delivery, events lost (never accepted by the receiver), duplicates beyond retries.

Retries use a compressed schedule (WEBHOOK_RETRY_SCHEDULE_SECONDS below, 15 attempts within seconds,
instead of minutes and hours) and a 1 s timeout; everything else is the product's code path.
Knobs: BENCH_EVENTS (10000), BENCH_SECONDS (8), BENCH_CLIENTS (4), BENCH_WORKER_CONCURRENCY (4),
BENCH_MAX_IN_FLIGHT (8).
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import sys
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import orders_bench as bench

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "4"))
MAX_IN_FLIGHT = int(os.environ.get("BENCH_MAX_IN_FLIGHT", "8"))
BATCH = 100
FAILURE_RATE = 30  # percent
SCHEDULE = "0,0.2,0.5,1,1,1,1,1,1,1,1,1,1,1,1"
HOLD_SECONDS = 2.0  # a "timeout" answer holds this long; the sender gives up after 1 s


class Receiver:
    """Fails FAILURE_RATE% of requests, drawn from a hash of (webhook-id, its request number)."""

    def __init__(self, *, failing: bool) -> None:
        self.failing = failing
        self.lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self.first_success: dict[str, float] = {}
        self.failures: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                webhook_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    receiver.requests[webhook_id] += 1
                    number = receiver.requests[webhook_id]
                draw = int(hashlib.sha256(f"{webhook_id}:{number}".encode()).hexdigest(), 16)
                fate = "ok"
                if receiver.failing and draw % 100 < FAILURE_RATE:
                    fate = ("500", "timeout", "reset")[(draw // 100) % 3]
                with receiver.lock:
                    if fate == "ok":
                        receiver.accepted[webhook_id] += 1
                        receiver.first_success.setdefault(webhook_id, time.time())
                    else:
                        receiver.failures[fate] += 1
                if fate == "timeout":
                    time.sleep(HOLD_SECONDS)
                    self.close_connection = True
                    return
                if fate == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                status = 200 if fate == "ok" else 500
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def baseline(receiver: Receiver, requests: int = 2000) -> float:
    """Signed POSTs straight to the healthy receiver, 4 threads: requests per second."""
    from webhooks import signing

    secret = signing.secret_new()
    body = b'{"id":"evt_baseline","type":"ping","timestamp":"2026-01-01T00:00:00Z","data":{}}'
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=5.0) as http:
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                stamp = int(time.time())
                message_id = f"evt_baseline_{index}"
                http.post(
                    receiver.url,
                    content=body,
                    headers={
                        "webhook-id": message_id,
                        "webhook-timestamp": str(stamp),
                        "webhook-signature": signing.signature(
                            secret=secret, message_id=message_id, timestamp=stamp, body=body
                        ),
                    },
                )

    threads = [threading.Thread(target=client) for _ in range(4)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return requests / (time.monotonic() - began)


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_webhooks")
    if not database_url.rstrip("/").endswith("bench_webhooks"):
        database_url = database_url.rsplit("/", 1)[0] + "/bench_webhooks"
    broker_url = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/7")
    bench.recreate_database(database_url)
    bench.purge_broker(broker_url)
    port = bench.free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = bench.environment(
        database_url=database_url,
        broker_url=broker_url,
        port=port,
        SECURE_SSL_REDIRECT="0",  # plain HTTP on the loopback, as in the other benchmarks' servers
        WEBHOOK_ALLOW_PRIVATE_URLS="1",
        WEBHOOK_ALLOW_HTTP="1",
        WEBHOOK_RETRY_SCHEDULE_SECONDS=SCHEDULE,
        WEBHOOK_TIMEOUT_SECONDS="1",
        WEBHOOK_CONNECT_TIMEOUT_SECONDS="1",
        WEBHOOK_DELIVERY_LEASE_SECONDS="15",
        WEBHOOK_ENDPOINT_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT),
        WEBHOOK_BUSY_RETRY_SECONDS="0.05",
        WEBHOOK_SWEEP_PRESUMED_LOST_SECONDS="60",
    )
    bench.migrate(env)
    bench.django_setup(env)
    from django.db import transaction
    from django.utils import timezone

    from events.models import Event
    from events.services import event_record
    from webhooks import services
    from webhooks.models import WebhookDelivery

    receiver = Receiver(failing=True)
    healthy = Receiver(failing=False)
    processes = bench.Processes()
    try:
        server = bench.gunicorn(processes, env, port, workers=2, threads=2)
        bench.wait_until_up(base_url, server)
        raw_key, (customer_id,) = bench.seed_trader(base_url=base_url, prefix="hooks")
        headers = {
            "X-API-Key": raw_key,
            "X-Builder-Customer-Id": customer_id,
            "Content-Type": "application/json",
        }

        def create(http, index: int) -> int:
            return http.post(
                f"{base_url}/api/v1/orders?exchange=kalshi",
                content=bench.order_body(index),
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            ).status_code

        with httpx.Client(timeout=30.0) as http:
            probe = create(http, 0)  # warms the market cache, as orders_intake.py does
        if probe != 201:
            sys.exit(f"POST /api/v1/orders answered {probe} before the timed runs")
        # One untimed run first: the first seconds of a fresh server (connections, caches, the
        # simulator's first orders) are slower, and the run timed first would carry them alone.
        bench.load(
            lambda http, index: create(http, 500_000 + index),
            clients=CLIENTS,
            seconds=SECONDS,
            max_requests=20000,
            expect=201,
        )
        without = bench.load(
            lambda http, index: create(http, 1 + index),
            clients=CLIENTS,
            seconds=SECONDS,
            max_requests=20000,
            expect=201,
        )
        created = httpx.post(
            f"{base_url}/api/v1/webhook-endpoints",
            json={"url": receiver.url, "events": ["*"]},
            headers={"X-API-Key": raw_key},
            timeout=10,
        )
        if created.status_code != 201:
            sys.exit(f"POST /api/v1/webhook-endpoints answered {created.status_code}: {created.text[:300]}")
        endpoint_id = created.json()["id"]
        offset = without.ok + 1000
        with_endpoint = bench.load(
            lambda http, index: create(http, offset + index),
            clients=CLIENTS,
            seconds=SECONDS,
            max_requests=20000,
            expect=201,
        )
        # The intake phase's deliveries are not part of the delivery figures.
        WebhookDelivery.objects.all().delete()
        bench.purge_broker(broker_url)
        receiver_baseline = baseline(healthy)

        worker = bench.celery_worker(processes, env, concurrency=CONCURRENCY, queues="webhooks")
        time.sleep(3)  # the worker connects; nothing is queued yet, so nothing is timed
        if worker.poll() is not None:
            sys.exit("the Celery worker exited")
        from customers.models import Partner

        partner_id = Partner.objects.get(webhook_endpoints__id=endpoint_id).pk
        committed: dict[str, float] = {}
        started = time.time()
        for start in range(0, EVENTS, BATCH):
            with transaction.atomic():
                ids = [
                    event_record(
                        partner_id=partner_id,
                        type="ping",
                        object_type="webhook_endpoint",
                        object_id=f"bench-{index}",
                        data={"message": f"event {index}", "endpoint_id": endpoint_id},
                        now=timezone.now(),
                    ).id
                    for index in range(start, min(start + BATCH, EVENTS))
                ]
            moment = time.time()
            committed.update(dict.fromkeys(ids, moment))
        produced = time.time() - started

        sweeps = 0
        deadline = time.monotonic() + float(os.environ.get("BENCH_DRAIN_SECONDS", "900"))
        while time.monotonic() < deadline:
            open_rows = WebhookDelivery.objects.exclude(status__in=["delivered", "failed"]).count()
            if not open_rows:
                break
            time.sleep(1.0)
            sweeps += 1
            if sweeps % 5 == 0:  # the beat's role: what a lost message left behind
                services.webhook_deliveries_sweep(now=timezone.now())
        finished = max(receiver.first_success.values(), default=time.time())
    finally:
        processes.stop_all()
        bench.purge_broker(broker_url)
        receiver.stop()
        healthy.stop()

    event_ids = set(
        Event.objects.filter(type="ping", object_id__startswith="bench-").values_list("id", flat=True)
    )
    open_ids = set(
        WebhookDelivery.objects.exclude(status__in=["delivered", "failed"]).values_list("event_id", flat=True)
    )
    # Lost: never accepted and not still on its way (a run cut short by BENCH_DRAIN_SECONDS says so apart).
    lost = len(event_ids - set(receiver.first_success) - open_ids)
    failed_rows = WebhookDelivery.objects.filter(status="failed").count()
    extra_accepts = sum(count - 1 for count in receiver.accepted.values() if count > 1)
    latencies = sorted(
        receiver.first_success[event_id] - committed[event_id]
        for event_id in receiver.first_success
        if event_id in committed
    )
    total_requests = sum(receiver.requests.values())
    rate = len(receiver.first_success) / (finished - started) if finished > started else 0.0
    print(
        f"gunicorn 2 gthread workers x 2 threads, {CLIENTS} client threads, {SECONDS:g} s per intake run; "
        f"Celery prefork x {CONCURRENCY} on `webhooks`, max {MAX_IN_FLIGHT} in flight per endpoint; "
        f"PostgreSQL, Redis, DEBUG off"
    )
    print(
        f"intake without an endpoint      {without.per_second:8.0f} req/s  "
        f"({without.ok} ok, {without.failed} failed)"
    )
    print(
        f"intake with one endpoint ('*')  {with_endpoint.per_second:8.0f} req/s  "
        f"({with_endpoint.ok} ok, {with_endpoint.failed} failed)"
    )
    if without.per_second:
        print(f"ratio with / without endpoint: {with_endpoint.per_second / without.per_second:.2f}")
    print(f"receiver baseline (signed POSTs, 4 threads, no queue): {receiver_baseline:.0f} req/s")
    print(
        f"events: {len(event_ids)} committed in {produced:.1f} s; receiver failing {FAILURE_RATE}% "
        f"({dict(receiver.failures)}); {total_requests} requests in all"
    )
    print(
        f"deliveries/s (first commit to last first success): {rate:.0f}  "
        f"(ratio to the receiver baseline: {rate / receiver_baseline:.2f})"
    )
    if latencies:
        p50 = bench.percentile(latencies, 0.5)
        p99 = bench.percentile(latencies, 0.99)
        print(f"commit -> first success: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms")
    if open_ids:
        print(f"still being retried when the run stopped waiting: {len(open_ids)} events")
    print(
        f"events lost: {lost}; deliveries failed after every attempt: {failed_rows}; "
        f"accepted twice: {extra_accepts}"
    )
    if lost:
        sys.exit("events were lost")


if __name__ == "__main__":
    main()
