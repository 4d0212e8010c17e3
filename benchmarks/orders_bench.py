"""Shared plumbing of the orders benchmarks: a fresh database, gunicorn, Celery workers, seeding, loops.

Not a benchmark itself (run as a script it only says so). Everything listens on loopback only, and every
loop is bounded in count and in time.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import GUNICORN_NO_CONTROL_SOCKET, free_port, recreate_database, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_orders"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
KALSHI_MARKET = "KXFEDDECISION-26JAN-C25"


def environment(*, database_url: str, broker_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of every process of one run: production-like, the simulator as Parsec."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "PARSEC_", "ORDER_", "CELERY_", "SHARED_STORE_"))
        # Celery takes a BROKER_URL from the environment over its settings: the benchmark's own knob
        # must not reach a worker (an embedded-mode worker listened on Redis while the API wrote files).
        and key != "BROKER_URL"
    }
    site = f"http://127.0.0.1:{port}"
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SITE_URL": site,
            "PARSEC_SIMULATOR": "1",
            # Debug off: the simulator runs only with a key of its own, never the documented one.
            "PARSEC_SIMULATOR_API_KEY": "pk_sim_bench_" + secrets.token_urlsafe(16),
            "PARSEC_BASE_URL": f"{site}/sim/api/v1",
            "PARSEC_SIM_LATENCY_SECONDS": "0",
            "LOG_LEVEL": "WARNING",
            "VAR_DIR": str(ROOT / "var" / "bench-orders"),
            "CELERY_BROKER_URL": broker_url,
            # Plain HTTP on the loopback: with debug off the product would redirect every call to HTTPS.
            "SECURE_SSL_REDIRECT": "0",
            # A partner's API budget stays in the path (its cost counts) but far above what one machine
            # can send, so a benchmark measures the pipeline, not the limit.
            "PARTNER_API_RATE": "100000",
            "PARTNER_API_BURST": "100000",
        }
    )
    env.update(extra)
    return env


def django_setup(env: dict[str, str]) -> None:
    """This process uses the same settings as the servers it starts (to seed and to read results)."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def migrate(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)


def purge_broker(broker_url: str) -> None:
    """Empty the benchmark's Redis database (its own db number), so no earlier run's message is consumed."""
    if broker_url.startswith("redis://"):
        import redis

        redis.Redis.from_url(broker_url).flushdb()


@dataclass
class Processes:
    started: list[subprocess.Popen] = field(default_factory=list)

    def start(self, command: list[str], env: dict[str, str], *, log: Path | None = None) -> subprocess.Popen:
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT
        )
        self.started.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        """Stop one process this run started (its process group), the others running on."""
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        # Only the processes this run started, each by its own process group.
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.started):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def gunicorn(
    processes: Processes,
    env: dict[str, str],
    port: int,
    *,
    app: str = "builder_platform.wsgi",
    workers: int = 2,
    threads: int = 4,
) -> subprocess.Popen:
    command = [
        str(BIN / "gunicorn"),
        app,
        "--pythonpath",
        str(ROOT / "benchmarks"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--timeout",
        "120",
        "--log-level",
        "warning",
        *GUNICORN_NO_CONTROL_SOCKET,
    ]
    return processes.start(command, env, log=ROOT / "var" / "bench-orders-gunicorn.log")


def celery_worker(
    processes: Processes,
    env: dict[str, str],
    *,
    concurrency: int = 2,
    queues: str = "default,submission,cancel,reconciliation",
    pool: str = "prefork",
) -> subprocess.Popen:
    command = [
        str(BIN / "celery"),
        "-A",
        "builder_platform",
        "worker",
        "--hostname",
        f"bench-{uuid.uuid4().hex[:8]}@%h",
        "--queues",
        queues,
        "--concurrency",
        str(concurrency),
        "--pool",
        pool,
        "--loglevel",
        "WARNING",
    ]
    return processes.start(command, env, log=ROOT / "var" / "bench-orders-worker.log")


def celery_beat(processes: Processes, env: dict[str, str]) -> subprocess.Popen:
    schedule = ROOT / "var" / "bench-orders" / f"beat-{uuid.uuid4().hex}"
    command = [
        str(BIN / "celery"),
        "-A",
        "builder_platform",
        "beat",
        "--loglevel",
        "WARNING",
        "-s",
        str(schedule),
    ]
    return processes.start(command, env, log=ROOT / "var" / "bench-orders-beat.log")


IO_QUEUES = "submission,cancel,reconciliation"
ALL_QUEUES = "default,submission,cancel,reconciliation"
IN_FLIGHT_TO_PARSEC = ("queued", "submitting")


@dataclass
class TradingServer:
    """One run's platform: a fresh database, gunicorn serving the API and the simulator, a seeded partner.

    `mode` is "postgres" (PostgreSQL + Redis: DATABASE_URL and BROKER_URL of the run) or "embedded"
    (SQLite and the filesystem broker in a temporary directory, no Redis: the shared store is the
    database). Workers are started on demand (`worker`), so a benchmark can queue orders first.
    """

    mode: str
    env: dict[str, str]
    base_url: str
    processes: Processes
    raw_key: str = ""
    customer_ids: list[str] = field(default_factory=list)
    workdir: Path | None = None
    broker_url: str = ""

    @property
    def label(self) -> str:
        return "PostgreSQL + Redis" if self.mode == "postgres" else "SQLite + filesystem broker"

    @property
    def sim_url(self) -> str:
        return f"{self.base_url}/sim/api/v1"

    @property
    def sim_key(self) -> str:
        return self.env["PARSEC_SIMULATOR_API_KEY"]

    def parsec_ids(self) -> list[str]:
        from customers.models import Customer

        customers = Customer.objects.filter(id__in=self.customer_ids)
        return list(customers.values_list("parsec_customer_id", flat=True))

    def worker(
        self, *, concurrency: int, pool: str = "threads", queues: str = IO_QUEUES, **settings: str
    ) -> subprocess.Popen:
        """A Celery worker on this run's database and broker (the Procfile's `io` by default)."""
        env = {**self.env, **settings}
        return celery_worker(self.processes, env, concurrency=concurrency, queues=queues, pool=pool)

    def creator(self) -> Callable[[httpx.Client, int], int]:
        return order_creator(base_url=self.base_url, raw_key=self.raw_key, customer_ids=self.customer_ids)

    def stop(self) -> None:
        self.processes.stop_all()
        purge_broker(self.broker_url)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start_trading_server(
    *,
    mode: str = "postgres",
    customers: int = 1,
    workers: int = 2,
    threads: int = 8,
    app: str = "builder_platform.wsgi",
    database_url: str | None = None,
    broker_url: str | None = None,
    seed_env: dict[str, str] | None = None,
    **settings: str,
) -> TradingServer:
    """A fresh database migrated, gunicorn up, `customers` active customers seeded (and this process set up
    with the same settings, to seed and to read results). `settings` are environment overrides of the run;
    `seed_env`, when given, are overrides for the seeding only: gunicorn is restarted with `settings` after
    (the chaos run seeds without faults). Stop it with `.stop()`, in a `finally`."""
    if mode not in ("postgres", "embedded"):
        sys.exit(f"unknown mode {mode!r}: postgres or embedded")
    workdir = None
    if mode == "postgres":
        database_url = database_url or os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        broker_url = broker_url or os.environ.get("BROKER_URL", DEFAULT_BROKER_URL)
        recreate_database(database_url)
        purge_broker(broker_url)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="bench-embedded-"))
        database_url = f"sqlite:///{workdir / 'db.sqlite3'}"
        broker_url = "filesystem://"
        settings = {"VAR_DIR": str(workdir), "CELERY_FILESYSTEM_DIR": str(workdir / "celery"), **settings}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = environment(database_url=database_url, broker_url=broker_url, port=port, **settings)
    server = TradingServer(
        mode=mode, env=env, base_url=base_url, processes=Processes(), workdir=workdir, broker_url=broker_url
    )
    try:
        migrate(env)
        django_setup(env)
        if app == "orders_site:application":
            import orders_site
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE {orders_site.BARE_TABLE} (id {_serial_column(mode)}, body text NOT NULL)"
                )
        if seed_env is not None:
            seeding = Processes()
            try:
                seeder = gunicorn(
                    seeding, {**env, **seed_env}, port, app=app, workers=workers, threads=threads
                )
                wait_until_up(base_url, seeder)
                server.raw_key, server.customer_ids = seed_trader(base_url=base_url, customers=customers)
            finally:
                seeding.stop_all()
        process = gunicorn(server.processes, env, port, app=app, workers=workers, threads=threads)
        wait_until_up(base_url, process)
        if seed_env is None:
            server.raw_key, server.customer_ids = seed_trader(base_url=base_url, customers=customers)
    except BaseException:
        server.stop()
        raise
    return server


def _serial_column(mode: str) -> str:
    return "bigserial PRIMARY KEY" if mode == "postgres" else "integer PRIMARY KEY AUTOINCREMENT"


def orders_wait_sent(*, timeout: float, since=None) -> bool:
    """Until no order (created at or after `since`) is still queued or submitting; False at `timeout`."""
    from orders.models import Order

    pending = Order.objects.filter(status__in=IN_FLIGHT_TO_PARSEC)
    if since is not None:
        pending = pending.filter(created_at__gte=since)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pending.exists():
            return True
        time.sleep(0.25)
    return False


@dataclass(frozen=True)
class Drain:
    sent: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0


def drain_measure(*, since=None) -> Drain:
    """Orders acknowledged by the simulator over the span from the first claim to the last answer, read from
    the orders' own events (a worker's start-up is not counted)."""
    from django.db.models import Max, Min

    from orders.models import OrderEvent

    events = OrderEvent.objects.all()
    if since is not None:
        events = events.filter(order__created_at__gte=since)
    first = events.filter(to_status="submitting").aggregate(first=Min("created_at"))["first"]
    placed = events.filter(from_status="submitting").exclude(to_status="queued")
    last = placed.aggregate(last=Max("created_at"))["last"]
    sent = placed.values("order_id").distinct().count()
    seconds = (last - first).total_seconds() if first and last else 0.0
    return Drain(sent=sent, seconds=seconds)


def open_latencies(*, since=None) -> tuple[list[float], float]:
    """(seconds from each order's creation to the event that made it open, the span first created -> last
    open), for the orders created at or after `since`."""
    from orders.models import Order, OrderEvent

    orders = Order.objects.all() if since is None else Order.objects.filter(created_at__gte=since)
    created = dict(orders.values_list("id", "created_at"))
    opened = dict(
        OrderEvent.objects.filter(to_status="open", order_id__in=list(created)).values_list(
            "order_id", "created_at"
        )
    )
    latencies = [(at - created[order_id]).total_seconds() for order_id, at in opened.items()]
    if not opened:
        return latencies, 0.0
    return latencies, (max(opened.values()) - min(created.values())).total_seconds()


def resting_buy(size: int) -> dict:
    """A Kalshi buy at 0.01 that rests (nothing sells that low); `size` makes each order distinct."""
    from decimal import Decimal

    return {
        "market_id": KALSHI_MARKET,
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.01"),
        "size": Decimal(size),
    }


def simulator_alone(
    *, base_url: str, api_key: str, parsec_ids: list[str], orders: int, callers: int
) -> float:
    """Orders per second the simulator takes from `callers` threads through the real client (no budget),
    each order a distinct resting buy; exits if the simulator refuses any."""
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
                try:
                    client.create_order(
                        exchange="kalshi",
                        customer_id=parsec_ids[index % len(parsec_ids)],
                        body=resting_buy(1_000_000 + number),
                    )
                except Exception as error:  # noqa: BLE001 - a benchmark counts failures instead of stopping
                    with lock:
                        errors.append(type(error).__name__)
                    continue
                with lock:
                    done[0] += 1

    threads = [threading.Thread(target=caller, args=(index,)) for index in range(callers)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        sys.exit(f"the simulator refused {len(errors)} orders: {sorted(set(errors))}")
    return done[0] / elapsed


def load_at_rate(
    send: Callable[[httpx.Client, int], int], *, per_second: float, seconds: float, clients: int, expect: int
) -> LoadResult:
    """An open loop: request i is due at i / per_second from the start, whatever the earlier ones took
    (`clients` threads share the schedule; one that falls behind sends at once). `elapsed` is the span."""
    result = LoadResult()
    lock = threading.Lock()
    total = int(per_second * seconds)
    counter = iter(range(total))
    gate = threading.Barrier(clients + 1)
    began = [0.0]

    def client() -> None:
        with httpx.Client(timeout=30.0) as http:
            gate.wait(timeout=30)
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                delay = began[0] + index / per_second - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sent = time.perf_counter()
                try:
                    status = send(http, index)
                except httpx.TransportError:
                    status = 0
                with lock:
                    result.latencies.append(time.perf_counter() - sent)
                    result.statuses[status] = result.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    began[0] = time.monotonic()
    gate.wait(timeout=30)
    for thread in threads:
        thread.join()
    result.elapsed = time.monotonic() - began[0]
    result.ok = result.statuses.get(expect, 0)
    result.failed = sum(count for status, count in result.statuses.items() if status != expect)
    return result


def seed_trader(*, base_url: str, customers: int = 1, prefix: str = "bench") -> tuple[str, list[str]]:
    """A partner, its API key and `customers` active customers provisioned at the simulator (over HTTP)."""
    from eth_account import Account

    from audit.services import Actor
    from customers import services
    from customers.models import Customer, Wallet
    from parsec.conf import get_client

    partner = services.partner_create(name=f"{prefix} partner {uuid.uuid4().hex[:6]}")
    _, raw_key = services.partner_api_key_create(
        actor=Actor.system("benchmark set-up"), partner=partner, name="benchmark"
    )
    client = get_client()
    ids = []
    for index in range(customers):
        signer = Account.from_key(secrets.token_bytes(32))
        customer = Customer.objects.create(partner=partner, external_id=f"{prefix}-{index}")
        user = client.create_builder_user(external_id=str(customer.id))
        onboarding = client.onboard(
            customer_id=user.customer_id, exchange="polymarket", eoa_address=signer.address
        )
        Customer.objects.filter(pk=customer.pk).update(
            parsec_customer_id=user.customer_id, status=Customer.Status.ACTIVE
        )
        now = customer.created_at
        Wallet.objects.create(
            customer=customer, address=signer.address, role=Wallet.Role.SIGNER, verified_at=now
        )
        Wallet.objects.create(
            customer=customer, address=onboarding.safe_address, role=Wallet.Role.PAYER, verified_at=now
        )
        ids.append(str(customer.id))
    return raw_key, ids


def order_creator(
    *, base_url: str, raw_key: str, customer_ids: list[str]
) -> Callable[[httpx.Client, int], int]:
    """`create(http, index)` for `load`: the index-th distinct order, its customer in turn, a fresh key."""

    def create(http: httpx.Client, index: int) -> int:
        return http.post(
            f"{base_url}/api/v1/orders?exchange=kalshi",
            content=order_body(index),
            headers={
                "X-API-Key": raw_key,
                "X-Builder-Customer-Id": customer_ids[index % len(customer_ids)],
                "Idempotency-Key": uuid.uuid4().hex,
                "Content-Type": "application/json",
            },
        ).status_code

    return create


def order_body(index: int) -> bytes:
    """A distinct Kalshi buy that rests (its price is below any the simulator quotes): it stays open.

    Distinct by size, in whole contracts: a price must sit on the market's 0.01 tick.
    """
    return (
        f'{{"market_id":"{KALSHI_MARKET}","outcome":"Yes","side":"buy","price":0.01,"size":{1 + index}}}'
    ).encode()


@dataclass
class LoadResult:
    ok: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0


def load(
    send: Callable[[httpx.Client, int], int], *, clients: int, seconds: float, max_requests: int, expect: int
) -> LoadResult:
    """`clients` threads, each on its own keep-alive connection, for `seconds` or `max_requests` at most.

    `send(http, index)` makes request number `index` and returns its status.
    """
    result = LoadResult()
    lock = threading.Lock()
    counter = iter(range(max_requests))
    gate = threading.Barrier(clients + 1)

    def client() -> None:
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        with httpx.Client(timeout=30.0) as http:
            gate.wait(timeout=30)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                with lock:
                    index = next(counter, None)
                if index is None:
                    break
                began = time.perf_counter()
                try:
                    status = send(http, index)
                except httpx.TransportError:
                    status = 0
                latencies.append(time.perf_counter() - began)
                statuses[status] = statuses.get(status, 0) + 1
        with lock:
            result.latencies += latencies
            for status, count in statuses.items():
                result.statuses[status] = result.statuses.get(status, 0) + count

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    gate.wait(timeout=30)
    began = time.monotonic()
    for thread in threads:
        thread.join()
    result.elapsed = time.monotonic() - began
    result.ok = result.statuses.get(expect, 0)
    result.failed = sum(count for status, count in result.statuses.items() if status != expect)
    return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


if __name__ == "__main__":
    print("helpers for benchmarks/orders_*.py; nothing to measure here")
