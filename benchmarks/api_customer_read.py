"""Requests per second of an authenticated GET /api/v1/customers/{id} and of a bare Django view (gunicorn).

Migrates a fresh PostgreSQL database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_customers),
seeds a partner, an API key and a customer, starts gunicorn (2 gthread workers) on a free loopback port with
a benchmark-only URL conf that adds a view answering {}, runs a bounded load loop against both, prints the
figures and their ratio, and stops the server.

Knobs (environment): BENCH_SECONDS (10 per endpoint), BENCH_CLIENTS (4), BENCH_MAX_REQUESTS (50000 per
endpoint), BENCH_WORKERS (2), BENCH_THREADS (2 per worker).
"""

from __future__ import annotations

import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import GUNICORN_NO_CONTROL_SOCKET, free_port, recreate_database, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_customers"
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
MAX_REQUESTS = int(os.environ.get("BENCH_MAX_REQUESTS", "50000"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
THREADS = int(os.environ.get("BENCH_THREADS", "2"))


def server_environment(database_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PARSEC_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
            # Production-like: DEBUG off (no query log kept per request).
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(ROOT / "var" / "bench"),
            "CELERY_BROKER_URL": "memory://",  # nothing is enqueued here; never touch a real broker
            # Debug off needs a Parsec key; nothing here calls Parsec, and nothing may leave the machine.
            "PARSEC_API_KEY": "pk_benchmark_unused",
            "PARSEC_BASE_URL": "http://127.0.0.1:9/unused",
        }
    )
    return env


SEED = """
from audit.services import Actor
from customers import services
from customers.models import Customer
partner = services.partner_create(name="Benchmark partner")
_, raw_key = services.partner_api_key_create(
    actor=Actor.system("benchmark"), partner=partner, name="benchmark"
)
# A plain row: the benchmark measures reads and must not queue provisioning at a Parsec.
customer = Customer.objects.create(partner=partner, external_id="bench-1", email="bench@example.com")
print(raw_key)
print(customer.id)
"""


def migrate_and_seed(env: dict[str, str]) -> tuple[str, str]:
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    seeded = subprocess.run(
        [python, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    raw_key, customer_id = seeded.stdout.split()[-2:]
    return raw_key, customer_id


def start_server(env: dict[str, str], port: int) -> subprocess.Popen:
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "benchmarks.customer_read_site.wsgi",  # the product's app plus the bare view
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(THREADS),
        "--log-level",
        "warning",
        *GUNICORN_NO_CONTROL_SOCKET,
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@dataclass
class Result:
    name: str
    ok: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0


def load(name: str, url: str, headers: dict[str, str], expect: int = 200) -> Result:
    """CLIENTS threads, each on its own keep-alive connection, until SECONDS pass or MAX_REQUESTS are sent."""
    result = Result(name)
    lock = threading.Lock()
    sent = 0
    start_gate = threading.Barrier(CLIENTS + 1)

    def client() -> None:
        nonlocal sent
        latencies: list[float] = []
        ok = failed = 0
        with httpx.Client(headers=headers, timeout=10.0) as http:
            http.get(url)  # open the connection before the clock starts
            start_gate.wait(timeout=30)
            deadline = time.monotonic() + SECONDS
            while time.monotonic() < deadline:
                with lock:
                    if sent >= MAX_REQUESTS:
                        break
                    sent += 1
                began = time.perf_counter()
                response = http.get(url)
                latencies.append(time.perf_counter() - began)
                if response.status_code == expect:
                    ok += 1
                else:
                    failed += 1
        with lock:
            result.ok += ok
            result.failed += failed
            result.latencies += latencies

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    start_gate.wait(timeout=30)
    began = time.monotonic()
    for thread in threads:
        thread.join()
    result.elapsed = time.monotonic() - began
    return result


def main() -> None:
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    recreate_database(database_url)
    env = server_environment(database_url)
    raw_key, customer_id = migrate_and_seed(env)

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(env, port)
    try:
        wait_until_up(base_url, server)
        auth = {"X-API-Key": raw_key}
        check = httpx.get(f"{base_url}/api/v1/customers/{customer_id}", headers=auth, timeout=5.0)
        if check.status_code != 200 or check.json().get("id") != customer_id:
            sys.exit(f"the customer endpoint answered {check.status_code}: {check.text[:200]}")
        results = [
            load("bare Django view {}", f"{base_url}/bench/bare", {}),
            load("GET /api/v1/customers/{id}", f"{base_url}/api/v1/customers/{customer_id}", auth),
        ]
    finally:
        stop_server(server)

    print(
        f"gunicorn: {WORKERS} gthread workers x {THREADS} threads; {CLIENTS} client threads; "
        f"{SECONDS:g} s or {MAX_REQUESTS} requests per endpoint; PostgreSQL, DEBUG off"
    )
    for result in results:
        p50 = statistics.median(result.latencies) * 1000 if result.latencies else 0.0
        print(
            f"{result.name:32} {result.per_second:8.0f} req/s  ({result.ok} ok, {result.failed} failed, "
            f"p50 {p50:.2f} ms, p99 {result.percentile(0.99):.2f} ms)"
        )
    bare, customer = results
    if bare.failed or customer.failed:
        sys.exit("some requests failed; the figures above are not comparable")
    print(f"ratio customer read / bare view: {customer.per_second / bare.per_second:.2f}")


if __name__ == "__main__":
    main()
