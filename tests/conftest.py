"""Fixtures shared by the whole suite."""

import pytest
from rest_framework.test import APIClient

from builder_platform.celery import app as celery_app
from generations.store import read_caches_clear


def pytest_configure(config) -> None:
    import shutil

    from django.conf import settings

    from builder_platform.folders import runtime_folders_create

    # The metrics files of an earlier run would add to this one's counters; nothing has counted yet.
    shutil.rmtree(settings.METRICS_DIR, ignore_errors=True)
    runtime_folders_create()


@pytest.fixture(autouse=True)
def _rate_limits_off(settings) -> None:
    """The suite sends many requests per partner and address: rate limits are off unless a test (the
    rate limit tests, tests/ratelimits/) switches them on with figures of its own. The shared Parsec
    budget too (its tests switch it on)."""
    settings.RATE_LIMITS_ENABLED = False
    settings.PARSEC_RATE_LIMIT_ENABLED = False


@pytest.fixture(autouse=True)
def _read_caches_empty() -> None:
    """Each test starts with this process's read caches empty: a flushed database restarts the
    generation at 0, under which an earlier test's keys, customers and halts would look current."""
    read_caches_clear()


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker consuming every queue over the configured broker, in this process.

    Tasks read committed rows, hence `transactional_db`. Queues are purged first so messages left by
    an earlier test (whose rows are gone) do not leak into this one.
    """
    from celery.contrib.testing.worker import start_worker

    with celery_app.connection_for_write() as connection:
        for queue in celery_app.conf.task_queues:
            queue.bind(connection.default_channel).purge()
    with start_worker(
        celery_app,
        pool="threads",
        concurrency=2,
        perform_ping_check=False,
        loglevel="WARNING",
        shutdown_timeout=10,
    ) as worker:
        yield worker


# --- Partners (customers app) ----------------------------------------------------------------------


@pytest.fixture
def partner(db):
    from factories import make_partner

    return make_partner(name="Acme Trading")


@pytest.fixture
def partner_api_key(partner) -> str:
    """The raw API key of `partner`."""
    from factories import make_api_key

    return make_api_key(partner=partner)[1]


@pytest.fixture
def partner_client(partner_api_key) -> APIClient:
    """An API client authenticated as `partner` with the X-API-Key header."""
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=partner_api_key)
    return client


@pytest.fixture
def customer_tasks(monkeypatch) -> list[tuple]:
    """Customer tasks sent after commit, as (task name, *args), instead of reaching the broker.

    Services enqueue by name through `builder_platform.enqueue`, so the recording sits where every
    message leaves: `send_task` of the current Celery app. Only the customers app's tasks are recorded
    (and kept from the broker); any other task is sent as usual.
    """
    from builder_platform import enqueue

    queued: list[tuple] = []
    send_task = enqueue.current_app.send_task

    def record(name, args=None, kwargs=None, **options):
        if not str(name).startswith("customers."):
            return send_task(name, args=args, kwargs=kwargs, **options)
        queued.append((str(name), *(args or ())))
        return None

    monkeypatch.setattr(enqueue.current_app, "send_task", record)
    return queued


# --- Parsec simulator (parsec.sim) -----------------------------------------------------------------


@pytest.fixture
def parsec_sim(live_server, settings):
    """A ParsecClient talking over real HTTP to the embedded simulator served by the live server.

    Short client timeouts (read 1 s) and fast fills (a chunk every 0.25 s) keep tests quick; a test may
    override any PARSEC_* / PARSEC_SIM_* setting after requesting this fixture.
    """
    from parsec.conf import get_client, reset_client

    if not settings.PARSEC_SIMULATOR:
        pytest.skip("the embedded simulator is off (PARSEC_SIMULATOR=false): its URLs are not mounted")
    settings.PARSEC_BASE_URL = live_server.url + "/sim/api/v1"
    settings.PARSEC_API_KEY = settings.PARSEC_SIMULATOR_API_KEY
    settings.PARSEC_CONNECT_TIMEOUT = 1.0
    settings.PARSEC_READ_TIMEOUT = 1.0
    settings.PARSEC_READ_RETRIES = 1
    settings.PARSEC_SIM_FAULT_RATES = {}
    settings.PARSEC_SIM_HOLD_SECONDS = 3.0
    settings.PARSEC_SIM_LATENCY_SECONDS = 0.2
    settings.PARSEC_SIM_FILL_INTERVAL_SECONDS = 0.25
    settings.PARSEC_SIM_FILL_CHUNK_FRACTION = "0.25"
    reset_client()
    yield get_client()
    reset_client()
