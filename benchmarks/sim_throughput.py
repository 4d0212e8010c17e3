"""Simulator create-order throughput through the real client, under gunicorn, with 1 and 4 callers.

Starts the app under gunicorn (threaded workers) on a free loopback port against a freshly migrated
database: a temporary SQLite file, or the PostgreSQL database named by DATABASE_URL (dropped and
created again for the run, then dropped). It provisions builder users, then each caller creates a fixed
number of resting Kalshi gtc orders (no fee) one after another; it prints orders per second and
latencies, checks that an apply-then-drop fault is reported as in doubt under gunicorn, and stops the
server it started.

    .venv/bin/python benchmarks/sim_throughput.py [--orders 300] [--callers 1,4] [--time-limit 240]
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parsec.client import ParsecClient, ParsecInDoubt  # noqa: E402

SIM_KEY = "pk_sim_benchmark_builder_key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_postgres(database_url: str) -> None:
    """Drop and create the database DATABASE_URL names, through the server's maintenance database."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing an unusual database name: {name!r}")
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    maintenance = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def wait_until_up(url: str, deadline: float, server: subprocess.Popen) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited early with status {server.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("gunicorn did not answer in time")


def run_callers(
    client: ParsecClient, customers: list[str], market_id: str, orders: int, deadline: float
) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    body = {
        "market_id": market_id,
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.01"),
        "size": Decimal(1),
    }

    def caller(customer_id: str) -> None:
        for _ in range(orders):
            if time.monotonic() > deadline:
                return
            started = time.perf_counter()
            try:
                client.create_order(exchange="kalshi", customer_id=customer_id, body=body)
            except Exception as error:  # noqa: BLE001 - a benchmark counts failures instead of stopping
                with lock:
                    errors.append(type(error).__name__)
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=caller, args=(customer,)) for customer in customers]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "created": len(latencies),
        "errors": errors,
        "wall": wall,
        "rate": len(latencies) / wall if wall else 0.0,
        "p50": statistics.median(latencies) * 1000 if latencies else 0.0,
        "p95": latencies[int(len(latencies) * 0.95) - 1] * 1000 if latencies else 0.0,
    }


def check_apply_then_drop(base_url: str, customer_id: str, market_id: str) -> str:
    class FaultTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.headers["X-Sim-Fault"] = "apply-then-drop"
            return super().handle_request(request)

    body = {
        "market_id": market_id,
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.02"),
        "size": Decimal(7),
    }
    with ParsecClient(
        base_url=base_url, api_key=SIM_KEY, read_timeout=5.0, transport=FaultTransport()
    ) as faulty:
        started = time.perf_counter()
        try:
            faulty.create_order(exchange="kalshi", customer_id=customer_id, body=body)
            outcome = "answered (unexpected)"
        except ParsecInDoubt:
            outcome = "ParsecInDoubt"
        elapsed = (time.perf_counter() - started) * 1000
    with ParsecClient(base_url=base_url, api_key=SIM_KEY) as client:
        orders = client.list_orders(exchange="kalshi", customer_id=customer_id, status="all", limit=500)
    exists = any(order.size == Decimal(7) and order.price == Decimal("0.02") for order in orders)
    return f"apply-then-drop under gunicorn: {outcome} after {elapsed:.0f} ms; order exists: {exists}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300, help="orders per caller")
    parser.add_argument("--callers", default="1,4", help="comma-separated concurrency levels")
    parser.add_argument("--time-limit", type=float, default=240.0, help="seconds for the whole run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    deadline = time.monotonic() + args.time_limit
    levels = [int(level) for level in args.callers.split(",")]

    workdir = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    database_url = os.environ.get("DATABASE_URL", "")
    postgres = database_url.startswith(("postgres://", "postgresql://"))
    if postgres:
        fresh_postgres(database_url)
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(workdir),
        "DJANGO_DEBUG": "false",  # production-like: no query log, no debug pages
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": site,
        "PARSEC_SIMULATOR": "true",
        "PARSEC_SIMULATOR_API_KEY": SIM_KEY,
        "PARSEC_SIM_FAULT_RATES": "",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("PARSEC_API_KEY", None)
    env.pop("PARSEC_BASE_URL", None)
    python = str(ROOT / ".venv" / "bin" / "python")
    gunicorn = str(ROOT / ".venv" / "bin" / "gunicorn")
    database_label = "PostgreSQL" if postgres else "SQLite"
    print(f"database: {database_label}; gunicorn {args.workers} workers x {args.threads} threads on {site}")

    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    server = subprocess.Popen(
        [
            gunicorn,
            "builder_platform.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.threads),
            "--worker-class",
            "gthread",
            "--timeout",
            "60",
            "--log-level",
            "warning",
            "--no-control-socket",  # never the per-user default socket `make run` may hold
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # its own process group, so stopping it stops its workers too
    )
    base_url = f"{site}/sim/api/v1"
    try:
        wait_until_up(f"{site}/healthz", min(deadline, time.monotonic() + 60), server)
        with ParsecClient(base_url=base_url, api_key=SIM_KEY, read_timeout=30.0) as client:
            market_id = client.list_markets(exchanges=["kalshi"], limit=1).markets[0].market_id
            customers = [
                client.create_builder_user(external_id=f"bench-{index}").customer_id
                for index in range(max(levels))
            ]
            run_callers(client, customers[:1], market_id, 20, deadline)  # warm up connections and caches
            for level in levels:
                result = run_callers(client, customers[:level], market_id, args.orders, deadline)
                errors = result["errors"]
                print(
                    f"{level} caller(s) x {args.orders} orders: {result['created']} created "
                    f"in {result['wall']:.2f} s = {result['rate']:.0f} orders/s "
                    f"(p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms)"
                    + (f"; {len(errors)} errors: {sorted(set(errors))}" if errors else "")
                )
                if time.monotonic() > deadline:
                    print("time limit reached; later levels skipped")
                    break
        print(check_apply_then_drop(base_url, customers[0], market_id))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=5)
        if postgres:
            drop_postgres(database_url)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
