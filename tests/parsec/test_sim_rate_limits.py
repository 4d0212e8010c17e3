"""The simulator enforces Parsec's rate limits (pool and builder user, over a sliding second) with
Parsec's 429 body and headers, counts across processes, and reports the busiest second it saw; and the
shared rate budget of several processes hammering it never goes over the pool in any one second."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from worker_process import ROOT, database_url_of_this_test

from parsec.sim.limits import max_in_one_second


@pytest.fixture(params=["configured", "database"])
def store(request, settings):
    if request.param == "database":
        settings.SHARED_STORE_URL = ""  # the database's window even where Redis is configured
    return request.param


@pytest.fixture
def sim(parsec_sim, settings, store):
    """(http client with the builder key, a builder user's id, the stats URL), counts forgotten."""
    customer_id = parsec_sim.create_builder_user(external_id="rate-limited").customer_id
    http = httpx.Client(
        base_url=settings.PARSEC_BASE_URL + "/", headers={"X-API-Key": settings.PARSEC_API_KEY}, timeout=10
    )
    assert http.delete("sim/rate-stats").status_code == 204
    yield http, customer_id
    http.close()


def _read(http: httpx.Client, customer_id: str) -> httpx.Response:
    return http.get("orders", params={"exchange": "kalshi"}, headers={"X-Builder-Customer-Id": customer_id})


def test_the_pool_refuses_past_its_limit_with_parsecs_429(sim, settings):
    http, customer_id = sim
    settings.PARSEC_SIM_POOL_QPS = 3
    answers = [_read(http, customer_id) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert [a.headers["x-ratelimit-pool-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert all(a.headers["x-ratelimit-pool-limit"] == "3" for a in answers)
    refused = answers[3]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    body = refused.json()
    assert body["code"] == "rate_limit_exceeded"
    assert body["retryable"] is True
    assert body["limit_qps"] == 3
    assert isinstance(body["error"], str)
    stats = http.get("sim/rate-stats").json()
    assert (stats["received"], stats["accepted"], stats["refused"]) == (4, 3, 1)
    assert stats["max_accepted_in_one_second"] == 3
    assert stats["max_received_in_one_second"] == 4


def test_a_builder_users_qps_limit_holds_that_user_only(sim, parsec_sim, settings):
    http, customer_id = sim
    other = parsec_sim.create_builder_user(external_id="rate-limited-other").customer_id
    patched = http.patch(f"builder/users/{customer_id}", json={"qps_limit": 2})
    assert patched.status_code == 200
    answers = [_read(http, customer_id) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-user-limit"] == "2"
    assert answers[1].headers["x-ratelimit-user-remaining"] == "0"
    assert "x-ratelimit-pool-limit" not in answers[0].headers  # the pool's limit is off
    assert _read(http, other).status_code == 200


def test_calls_that_act_for_no_user_are_not_counted(sim, settings):
    http, _customer_id = sim
    settings.PARSEC_SIM_POOL_QPS = 1
    answers = [http.get("exchanges") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert "x-ratelimit-pool-remaining" not in answers[0].headers


def test_the_busiest_second_is_counted_over_a_sliding_window():
    # Two clock seconds hold 3 each, but the second from 0.6 to 1.6 holds 5.
    assert max_in_one_second([0.1, 0.6, 0.7, 0.8, 1.1, 1.5, 1.7, 2.6]) == 5
    assert max_in_one_second([]) == 0


# One process of the deployment: THREADS threads calling the simulator as fast as the shared budget
# lets them until `end`; prints the calls made and the 429s received.
HAMMER = """
import sys, threading, time, django
django.setup()
from parsec.client import ParsecClient, ParsecUnavailable
from ratelimits.parsec_budget import SharedParsecBudget
base_url, api_key, scope, customer, end, threads = sys.argv[1:7]
budget = SharedParsecBudget(scope=scope, pool_qps=POOL, user_qps=0, headroom=0.05, max_wait_seconds=10)
client = ParsecClient(base_url=base_url, api_key=api_key, read_retries=0, read_timeout=10, limiter=budget)
# A process that was slow to start still hammers for a few seconds (they overlap by the end time).
end = max(float(end), time.time() + 3)
counts = {"calls": 0, "429": 0}
lock = threading.Lock()
def hammer():
    while time.time() < end:
        try:
            client.list_orders(exchange="kalshi", customer_id=customer)
            outcome = "calls"
        except ParsecUnavailable as error:
            outcome = "429" if error.status == 429 else "calls"
        with lock:
            counts[outcome] += 1
workers = [threading.Thread(target=hammer) for _ in range(int(threads))]
for worker in workers: worker.start()
for worker in workers: worker.join()
print(counts["calls"], counts["429"])
"""
POOL = 20


def test_processes_sharing_the_budget_never_exceed_the_pool_in_any_second(sim, settings, store):
    http, customer_id = sim
    settings.PARSEC_SIM_POOL_QPS = POOL
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_test(),
        "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
        "PYTHONPATH": str(ROOT),
    }
    if store == "database":
        env["SHARED_STORE_URL"] = ""
    scope = f"test-{os.getpid()}-{time.time_ns()}"
    started = time.time()
    end = started + 8.0  # Django's start-up in each process, then a few seconds of hammering
    script = HAMMER.replace("POOL", str(POOL))
    command = [sys.executable, "-c", script, settings.PARSEC_BASE_URL, settings.PARSEC_API_KEY, scope]
    processes = [
        subprocess.Popen(  # noqa: S603
            [*command, customer_id, repr(end), "4"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        results.append(tuple(map(int, out.split())))
    stats = http.get("sim/rate-stats", params={"since": started}).json()
    assert stats["max_received_in_one_second"] <= POOL, (stats, results)
    assert stats["refused"] == 0, (stats, results)
    # They did push: the pool was kept busy for seconds, not idle.
    assert stats["accepted"] >= POOL * 2, (stats, results)
    assert sum(calls for calls, _ in results) == stats["received"]
