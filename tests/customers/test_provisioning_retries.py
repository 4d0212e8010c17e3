"""The provisioning tasks' retry policy, and the sweep that re-enqueues provisioning left undone."""

import json
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone
from factories import make_customer, make_eth_account, make_wallet

from customers import services, tasks
from customers.models import Customer, Wallet
from customers.services import provisioning
from parsec.client import ParsecClient, ParsecInDoubt, ParsecUnavailable

pytestmark = pytest.mark.django_db


class FakeParsec:
    """Answers every request with one status (and a Parsec error body), counting what was sent."""

    def __init__(self, status: int, headers: dict | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = {
            "error": "exchange down" if self.status >= 500 else "bad external_id",
            "code": "x",
            "retryable": False,
        }
        return httpx.Response(self.status, headers=self.headers, content=json.dumps(body).encode())


@pytest.fixture
def fake_parsec(monkeypatch):
    def install(status: int, headers: dict | None = None) -> FakeParsec:
        fake = FakeParsec(status, headers)
        client = ParsecClient(
            base_url="https://parsec.invalid/api/v1", api_key="pk_test", transport=httpx.MockTransport(fake)
        )
        monkeypatch.setattr(provisioning, "get_client", lambda: client)
        return fake

    return install


def test_an_unavailable_parsec_is_retried_until_the_retries_run_out(fake_parsec):
    fake = fake_parsec(503)
    customer = make_customer()
    # apply() runs the retries at once, in process, ignoring their countdown.
    result = tasks.customer_provision_task.apply(args=[str(customer.id)])
    assert isinstance(result.result, ParsecUnavailable)
    assert len(fake.requests) == tasks.MAX_RETRIES + 1
    assert {request.url.path for request in fake.requests} == {"/api/v1/builder/users"}
    customer.refresh_from_db()
    # Nothing is recorded: the sweep enqueues the customer again later.
    assert (customer.status, customer.parsec_customer_id, customer.provisioning_error) == (
        "provisioning",
        None,
        "",
    )


def test_a_refusal_is_recorded_once_and_not_retried(fake_parsec):
    fake = fake_parsec(400)
    customer = make_customer()
    result = tasks.customer_provision_task.apply(args=[str(customer.id)])
    assert result.successful()
    assert len(fake.requests) == 1
    customer.refresh_from_db()
    assert customer.status == Customer.Status.PROVISIONING
    assert customer.provisioning_error == "Parsec refused the builder user (x): bad external_id"


@pytest.mark.parametrize(("status", "error"), [(503, ParsecUnavailable), (502, ParsecInDoubt)])
def test_onboarding_is_retried_when_parsec_is_down_or_its_answer_is_in_doubt(fake_parsec, status, error):
    # Onboarding is idempotent, so a 502 (which may follow an applied write) is retried like a 503.
    fake = fake_parsec(status)
    customer = make_customer(parsec_customer_id="p-1")
    make_wallet(customer=customer, address=make_eth_account("retry").address)
    result = tasks.wallet_onboard_task.apply(args=[str(customer.id)])
    assert isinstance(result.result, error)
    assert len(fake.requests) == tasks.MAX_RETRIES + 1
    assert {request.url.path for request in fake.requests} == {"/api/v1/builder/onboard"}


def test_an_answer_lost_in_flight_is_retried_because_the_endpoints_are_idempotent(monkeypatch):
    calls = []

    class LosesAnswers:
        def create_builder_user(self, **kwargs):
            calls.append(kwargs)
            raise ParsecInDoubt("POST builder/users: no answer from Parsec after sending (ReadTimeout)")

    monkeypatch.setattr(provisioning, "get_client", LosesAnswers)
    customer = make_customer()
    tasks.customer_provision_task.apply(args=[str(customer.id)])
    assert len(calls) == tasks.MAX_RETRIES + 1
    assert {call["external_id"] for call in calls} == {str(customer.id)}  # the same id every time


def test_the_countdown_backs_off_and_honours_retry_after():
    unavailable = ParsecUnavailable(status=503, code="service_unavailable", message="down")
    for retries in range(6):
        countdown = tasks.retry_countdown(retries=retries, error=unavailable)
        ceiling = min(tasks.RETRY_MAX_SECONDS, tasks.RETRY_BASE_SECONDS * 2**retries)
        assert ceiling / 2 <= countdown <= ceiling
    throttled = ParsecUnavailable(status=429, code="rate_limit_exceeded", message="slow", retry_after=90)
    assert tasks.retry_countdown(retries=0, error=throttled) == 90


def test_a_task_for_a_deleted_customer_does_nothing(fake_parsec):
    fake = fake_parsec(503)
    result = tasks.customer_provision_task.apply(args=["6f1c1e4e-5f7e-4f7a-9a39-2b1f1c1d1e1f"])
    assert result.successful()
    assert fake.requests == []


def test_the_sweep_re_enqueues_only_customers_whose_next_step_is_ours(
    customer_tasks, django_capture_on_commit_callbacks
):
    now = timezone.now()
    long_ago = now - timedelta(minutes=30)
    needs_user = make_customer(provisioning_requested_at=long_ago)
    needs_onboarding = make_customer(parsec_customer_id="p-1", provisioning_requested_at=long_ago)
    make_wallet(customer=needs_onboarding, address=make_eth_account("sweep").address)
    make_customer(parsec_customer_id="p-2", provisioning_requested_at=long_ago)  # waits for a wallet link
    make_customer(provisioning_requested_at=long_ago, provisioning_error="refused")  # waits for a person
    make_customer(provisioning_requested_at=now - timedelta(minutes=1))  # its task may still be running
    make_customer(provisioning_requested_at=long_ago, status=Customer.Status.DISABLED)

    with django_capture_on_commit_callbacks(execute=True):
        enqueued = services.customers_provisioning_sweep(now=now, stale_after=timedelta(minutes=10))
    assert enqueued == 2
    assert sorted(customer_tasks) == sorted(
        [("customers.provision", str(needs_user.id)), ("customers.onboard", str(needs_onboarding.id))]
    )

    # Claimed: an overlapping sweep finds nothing left to enqueue.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.customers_provisioning_sweep(now=now, stale_after=timedelta(minutes=10)) == 0
    assert len(customer_tasks) == 2


def test_the_retry_admin_service_clears_the_error_and_queues_the_missing_step(
    customer_tasks, django_capture_on_commit_callbacks
):
    customer = make_customer(parsec_customer_id="p-1", provisioning_error="refused")
    make_wallet(customer=customer, address=make_eth_account("retry-admin").address, role=Wallet.Role.SIGNER)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.customer_provisioning_retry(customer=customer, now=timezone.now())
    customer.refresh_from_db()
    assert customer.provisioning_error == ""
    assert customer_tasks == [("customers.onboard", str(customer.id))]


def test_the_sweep_runs_every_minute_on_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["customers.sweep_provisioning"]
    assert entry["task"] == tasks.customers_provisioning_sweep_task.name == "customers.sweep_provisioning"
    assert entry["schedule"] <= 60


def test_the_tasks_have_stable_names_on_the_provisioning_queue():
    from builder_platform.celery import app

    for task in (
        tasks.customer_provision_task,
        tasks.wallet_onboard_task,
        tasks.customers_provisioning_sweep_task,
    ):
        assert app.amqp.router.route({}, task.name)["queue"].name == "provisioning"
    assert (tasks.customer_provision_task.name, tasks.wallet_onboard_task.name) == (
        "customers.provision",
        "customers.onboard",
    )
