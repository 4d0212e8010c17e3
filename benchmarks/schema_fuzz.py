"""schemathesis over every operation of /api/schema/ with many examples: requests, 5xx, schema violations.

Migrates a fresh PostgreSQL database (DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_schema_fuzz),
starts gunicorn with the embedded simulator on a free loopback port, seeds a partner with an API key, a
customer active at the simulator and one order, then runs the same property-based run as
tests/api/test_schema_fuzz.py (schema-valid and schema-violating requests per operation, plus valid ones
aimed at the real customer and order), prints the counts and every distinct failure, and stops the server.
No Celery worker runs: orders stay queued, which the run does not need.

Knobs (environment): BENCH_EXAMPLES (200 per operation and mode), BENCH_SEED (random when unset).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from harness import free_port, recreate_database, wait_until_up

ROOT = Path(__file__).resolve().parent.parent
# The run itself is the suite's (one definition of what is checked).
sys.path.insert(0, str(ROOT / "tests" / "api"))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_schema_fuzz"
EXAMPLES = int(os.environ.get("BENCH_EXAMPLES", "200"))
SEED = os.environ.get("BENCH_SEED")

SEED_SCRIPT = """
import uuid
from django.utils import timezone
from audit.services import Actor
from customers import services
from customers.models import Customer, Wallet
from eth_account import Account
from orders.services import intake
from parsec.conf import get_client

partner = services.partner_create(name="Fuzz partner")
_, raw_key = services.partner_api_key_create(
    actor=Actor.system("benchmark"), partner=partner, name="fuzz"
)
signer = Account.create()
client = get_client()
now = timezone.now()
customer = Customer.objects.create(partner=partner, external_id="fuzz-1", provisioning_requested_at=now)
user = client.create_builder_user(external_id=str(customer.id))
safe = client.onboard(customer_id=user.customer_id, exchange="polymarket", eoa_address=signer.address)
Customer.objects.filter(pk=customer.pk).update(
    parsec_customer_id=user.customer_id, status=Customer.Status.ACTIVE
)
for address, role in ((signer.address, Wallet.Role.SIGNER), (safe.safe_address, Wallet.Role.PAYER)):
    Wallet.objects.create(customer=customer, address=address, role=role, verified_at=now)
order = intake.order_create(
    partner=partner, customer_id=str(customer.id), exchange="kalshi",
    body={"market_id": "KXFEDDECISION-26JAN-C25", "outcome": "Yes", "side": "buy", "price": 0.01, "size": 10},
    now=timezone.now(),
)
print(raw_key, customer.id, order.id)
"""


def server_environment(database_url: str, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PARSEC_"))}
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
            # The embedded simulator is a development mode: debug on, loopback only.
            "DJANGO_DEBUG": "1",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "SITE_URL": f"http://127.0.0.1:{port}",
            "LOG_LEVEL": "ERROR",
            "VAR_DIR": str(ROOT / "var" / "bench-fuzz"),
            "CELERY_BROKER_URL": "memory://",  # nothing needs a worker; never touch a real broker
        }
    )
    return env


def main() -> None:
    import schemathesis
    from fuzz_support import fuzz

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    recreate_database(database_url)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_environment(database_url, port)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    log_path = Path(env["VAR_DIR"]) / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    server_log = log_path.open("w")
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "builder_platform.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "8",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        # The server's own log (every refused request is a warning there) goes to a file, not the figures.
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(base_url, server)
        seeded = subprocess.run(
            [python, "manage.py", "shell", "-c", SEED_SCRIPT],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        raw_key, customer_id, order_id = seeded.stdout.split()[-3:]
        schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/?format=json")
        started = time.monotonic()
        report = fuzz(
            schema,
            base_url=base_url,
            api_key=raw_key,
            max_examples=EXAMPLES,
            real_ids={"customer_id": customer_id, "order_id": order_id, "X-Builder-Customer-Id": customer_id},
            seed=int(SEED) if SEED else None,
        )
        elapsed = time.monotonic() - started
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        server_log.close()

    print(f"schema fuzz: {EXAMPLES} examples per operation and mode, {elapsed:.0f} s")
    print(f"  requests:          {report.requests}")
    print(f"  5xx:               {len(report.server_errors)}")
    print(f"  schema violations: {len(report.violations)}")
    print(f"  statuses:          {dict(sorted(report.statuses.items()))}")
    print(f"  server log:        {log_path}")
    for title, lines in (("5xx", report.server_errors), ("violation", report.violations)):
        first = {}
        for line in lines:
            first.setdefault(line.split("\n")[0], line)
        counts = Counter(line.split("\n")[0] for line in lines)
        for headline, count in counts.most_common(20):
            print(f"\n  {title} x{count}: {first[headline]}")
    if report.server_errors or report.violations:
        sys.exit(1)


if __name__ == "__main__":
    main()
