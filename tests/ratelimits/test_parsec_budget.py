"""The shared Parsec rate budget: figures, priorities, pauses across processes, in both stores."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from django.db import connection
from worker_process import ROOT, database_url_of_this_test

from parsec.client import CallPriority, ParsecClient
from ratelimits.parsec_budget import SharedParsecBudget, budget_figures

STORES = ["configured", "database"]


@pytest.fixture(params=STORES)
def store(request, settings):
    """The configured store (Redis when the broker is), and the database's rows even where it is Redis."""
    if request.param == "database":
        settings.SHARED_STORE_URL = ""
    return request.param


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _budget(clock: Clock, *, pool_qps: int = 20, user_qps: int = 0, scope: str | None = None):
    return SharedParsecBudget(
        scope=scope or uuid.uuid4().hex,
        pool_qps=pool_qps,
        user_qps=user_qps,
        headroom=0.0,
        max_wait_seconds=0.0,
        clock=clock,
        sleep=lambda seconds: None,
    )


def test_the_buckets_spend_at_most_the_limit_less_the_headroom_in_any_second():
    assert budget_figures(limit=100, headroom=0.05) == (92.0, 3)
    rate, burst = budget_figures(limit=500, headroom=0.05)
    assert burst == 15
    assert rate + burst == pytest.approx(475)
    rate, burst = budget_figures(limit=2, headroom=0.0)
    assert burst == 1
    assert rate + burst <= 2


def test_a_cancel_asked_after_a_thousand_waiting_reads_goes_next(db, store):
    clock = Clock(1_000_000.0)
    budget = _budget(clock)  # 17 tokens a second, a burst of 3; reads leave 2, creates 1
    customer = str(uuid.uuid4())
    while budget.try_acquire(customer_id=customer, priority=CallPriority.CANCEL, now=clock.now).allowed:
        pass  # the budget is spent
    clock.now += 1.05 / budget.pool_rate  # one token has come back
    reads = [
        budget.try_acquire(customer_id=customer, priority=CallPriority.READ, now=clock.now)
        for _ in range(1000)
    ]
    assert not any(take.allowed for take in reads)
    assert budget.try_acquire(customer_id=customer, priority=CallPriority.CANCEL, now=clock.now).allowed
    # The reads are only behind, not starved: once the reserve is back they go.
    clock.now += 3.05 / budget.pool_rate
    assert budget.try_acquire(customer_id=customer, priority=CallPriority.READ, now=clock.now).allowed


def test_a_create_leaves_the_last_token_to_a_cancel(db, store):
    clock = Clock(2_000_000.0)
    budget = _budget(clock)
    taken = 0
    while budget.try_acquire(customer_id=None, priority=CallPriority.CREATE, now=clock.now).allowed:
        taken += 1
    assert taken == budget.pool_burst - 1
    assert budget.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=clock.now).allowed
    assert not budget.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=clock.now).allowed


def test_a_call_without_a_token_in_time_is_refused_with_when_to_try_again(db, store):
    clock = Clock(3_000_000.0)
    budget = _budget(clock)
    while budget.acquire(customer_id=None, priority=CallPriority.CANCEL) is None:
        pass
    wait = budget.acquire(customer_id=None, priority=CallPriority.CANCEL)
    assert wait == pytest.approx(1 / budget.pool_rate, rel=0.01)


def test_one_builder_users_limit_does_not_hold_back_another(db, store):
    clock = Clock(4_000_000.0)
    budget = _budget(clock, pool_qps=1000, user_qps=10)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    while budget.try_acquire(customer_id=first, priority=CallPriority.CANCEL, now=clock.now).allowed:
        pass
    assert budget.try_acquire(customer_id=second, priority=CallPriority.CANCEL, now=clock.now).allowed


# Tells the budget of an answer, in a process of its own, as another worker would.
ANSWER = """
import json, sys, time, django
django.setup()
from ratelimits.parsec_budget import SharedParsecBudget
scope, customer, status, headers, retry_after = sys.argv[1:6]
budget = SharedParsecBudget(scope=scope, pool_qps=100, user_qps=0, headroom=0.0, max_wait_seconds=0.0)
budget.on_response(
    customer_id=customer, status=int(status), headers=json.loads(headers),
    retry_after=None if retry_after == "-" else float(retry_after),
)
"""


def _answer_in_another_process(
    store: str, *, scope: str, customer: str, status: int, headers: str, retry: str
):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_test(),
        "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
        "PYTHONPATH": str(ROOT),
    }
    if store == "database":
        env["SHARED_STORE_URL"] = ""
    command = [sys.executable, "-c", ANSWER, scope, customer, str(status), headers, retry]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, timeout=60, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr.decode()


def test_a_429_in_one_process_pauses_the_pool_for_another(transactional_db, store):
    scope, customer = uuid.uuid4().hex, str(uuid.uuid4())
    budget = _budget(Clock(0.0), pool_qps=100, scope=scope)
    _answer_in_another_process(store, scope=scope, customer=customer, status=429, headers="{}", retry="30")
    now = time.time()
    take = budget.try_acquire(customer_id=customer, priority=CallPriority.CANCEL, now=now)
    assert not take.allowed
    assert 25 < take.wait_seconds <= 30.1
    # Once the pause is over the calls go again.
    assert budget.try_acquire(customer_id=customer, priority=CallPriority.CANCEL, now=now + 31).allowed


def test_a_429_naming_a_user_pauses_that_user_only_for_another_process(transactional_db, store):
    scope, spent, other = uuid.uuid4().hex, str(uuid.uuid4()), str(uuid.uuid4())
    budget = _budget(Clock(0.0), pool_qps=100, scope=scope)
    headers = '{"x-ratelimit-user-remaining": "0", "x-ratelimit-pool-remaining": "40"}'
    _answer_in_another_process(store, scope=scope, customer=spent, status=429, headers=headers, retry="30")
    now = time.time()
    assert not budget.try_acquire(customer_id=spent, priority=CallPriority.CANCEL, now=now).allowed
    # At the same instant: the other user goes, while the named one stays paused for its 30 s.
    assert budget.try_acquire(customer_id=other, priority=CallPriority.CANCEL, now=now).allowed
    assert not budget.try_acquire(customer_id=spent, priority=CallPriority.CANCEL, now=now + 20).allowed


# Lua's tostring keeps 14 significant digits: this instant was stored as ...456.1235, in its own future.
FRACTIONAL_INSTANT = 1_765_123_456.123456


def test_a_bucket_taken_from_at_a_fractional_instant_is_not_paused_at_that_instant(db, store):
    budget = _budget(Clock(FRACTIONAL_INSTANT), pool_qps=100)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert budget.try_acquire(customer_id=first, priority=CallPriority.CANCEL, now=FRACTIONAL_INSTANT).allowed
    take = budget.try_acquire(customer_id=second, priority=CallPriority.CANCEL, now=FRACTIONAL_INSTANT)
    assert take.allowed, f"refused for {take.wait_seconds} s with two tokens of three left"


def test_a_spent_bucket_at_a_fractional_instant_waits_exactly_one_tokens_time(db, store):
    budget = _budget(Clock(FRACTIONAL_INSTANT), pool_qps=100)
    while budget.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=FRACTIONAL_INSTANT).allowed:
        pass
    take = budget.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=FRACTIONAL_INSTANT)
    assert take.wait_seconds == pytest.approx(1 / budget.pool_rate, abs=1e-9)


def test_a_remaining_count_of_zero_pauses_its_scope_for_a_second(db, store):
    clock = Clock(5_000_000.0)
    budget = _budget(clock, pool_qps=100)
    customer = str(uuid.uuid4())
    budget.on_response(
        customer_id=customer, status=200, headers={"x-ratelimit-pool-remaining": "0"}, retry_after=None
    )
    take = budget.try_acquire(customer_id=customer, priority=CallPriority.CANCEL, now=clock.now)
    assert not take.allowed
    assert take.wait_seconds == pytest.approx(1.0 + 1 / budget.pool_rate, rel=0.01)
    assert budget.try_acquire(customer_id=customer, priority=CallPriority.CANCEL, now=clock.now + 1.1).allowed


def test_a_nearly_full_window_at_parsec_eases_the_pool_off_before_a_refusal(db, store):
    clock = Clock(5_000_000.0)
    budget = _budget(clock, pool_qps=100)  # no headroom: 97 tokens a second, a burst of 3
    other_process = _budget(clock, pool_qps=100, scope=budget.scope)
    customer = str(uuid.uuid4())
    # Room for 4 calls at Parsec: more than the burst, so nothing changes and the bucket is still full.
    budget.on_response(
        customer_id=customer, status=200, headers={"x-ratelimit-pool-remaining": "4"}, retry_after=None
    )
    for _ in range(budget.pool_burst):
        assert other_process.try_acquire(
            customer_id=None, priority=CallPriority.CANCEL, now=clock.now
        ).allowed
    clock.now += 10.0  # full again
    # Room for 1: the pool's next token is (3 + 1 - 1) tokens' time away, here and in every other process.
    for _ in range(5):  # answers arriving together ease it once, not five times
        budget.on_response(
            customer_id=customer, status=200, headers={"x-ratelimit-pool-remaining": "1"}, retry_after=None
        )
    take = other_process.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=clock.now)
    assert not take.allowed
    assert take.wait_seconds == pytest.approx(3 / budget.pool_rate, rel=0.01)
    later = clock.now + 3.5 / budget.pool_rate
    assert other_process.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=later).allowed


def test_a_nearly_full_window_of_a_limited_user_eases_that_user_only(db, store):
    clock = Clock(5_000_000.0)
    budget = _budget(clock, pool_qps=100, user_qps=10)
    slowed, other = str(uuid.uuid4()), str(uuid.uuid4())
    budget.on_response(
        customer_id=slowed,
        status=200,
        headers={"x-ratelimit-user-remaining": "0", "x-ratelimit-pool-remaining": "50"},
        retry_after=None,
    )
    assert not budget.try_acquire(customer_id=slowed, priority=CallPriority.CANCEL, now=clock.now).allowed
    assert budget.try_acquire(customer_id=other, priority=CallPriority.CANCEL, now=clock.now).allowed
    budget.on_response(
        customer_id=other,
        status=200,
        headers={"x-ratelimit-user-remaining": "1", "x-ratelimit-pool-remaining": "50"},
        retry_after=None,
    )
    take = budget.try_acquire(customer_id=other, priority=CallPriority.CANCEL, now=clock.now)
    assert not take.allowed
    assert take.wait_seconds == pytest.approx(budget.user_burst / budget.user_rate, rel=0.01)


def test_the_client_gets_the_shared_budget_from_its_settings(settings):
    from parsec.conf import get_client, reset_client

    settings.PARSEC_RATE_LIMIT_ENABLED = True
    settings.PARSEC_POOL_QPS = 100
    reset_client()
    try:
        client = get_client()
        assert isinstance(client, ParsecClient)
        assert isinstance(client._limiter, SharedParsecBudget)
        assert client._limiter.pool_burst == 3
        settings.PARSEC_RATE_LIMIT_ENABLED = False
        assert get_client()._limiter is None
    finally:
        reset_client()


class CountingBudget(SharedParsecBudget):
    """The budget, counting its round trips to the shared store."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.asked = 0
        self._asked_lock = threading.Lock()

    def try_acquire(self, **kwargs):
        with self._asked_lock:
            self.asked += 1
        return super().try_acquire(**kwargs)


def test_threads_waiting_for_tokens_ask_the_store_about_once_per_token(transactional_db, store):
    budget = CountingBudget(
        scope=uuid.uuid4().hex, pool_qps=200, user_qps=0, headroom=0.0, max_wait_seconds=5.0
    )
    while budget.try_acquire(customer_id=None, priority=CallPriority.CANCEL, now=time.time()).allowed:
        pass  # spent: every thread below has to wait for the refill
    budget.asked = 0
    waiters = 16
    results: list[float | None] = []
    gate = threading.Barrier(waiters)

    def wait_for_a_token() -> None:
        gate.wait(timeout=10)
        try:
            results.append(budget.acquire(customer_id=str(uuid.uuid4()), priority=CallPriority.CREATE))
        finally:
            connection.close()

    threads = [threading.Thread(target=wait_for_a_token) for _ in range(waiters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [None] * waiters
    # Each waiter asks once on arrival and about once more per turn (23 asks in Redis). All polling at
    # every token asked 85 times in Redis; the database's row lock spaces its askers out by itself.
    assert budget.asked <= 3 * waiters
