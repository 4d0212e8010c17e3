"""One bucket holds across processes: two processes taking from it as fast as they can never get more
than burst + rate x window between them, with Redis (when configured) and with the database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from worker_process import ROOT, database_url_of_this_test

from builder_platform.shared_store import shared_redis
from ratelimits.buckets import bucket_reset, bucket_take

RATE = 5
BURST = 10
WINDOW_SECONDS = 2.0

# Says "ready" once Django is up, reads `start end` (Unix times both processes share) from its input, takes
# from one bucket from start until end, and prints the counts. Start-up can take seconds (a fresh clone
# compiles every module first), so the window is chosen only once both are ready.
HAMMER = """
import sys, time, django
django.setup()
from ratelimits.buckets import bucket_take
key, rate, burst = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
start, end = map(float, sys.stdin.readline().split())
while time.time() < start:
    time.sleep(0.001)
allowed = attempts = 0
while (now := time.time()) < end:
    attempts += 1
    allowed += bucket_take(key=key, rate=rate, burst=burst, now=now).allowed
print(allowed, attempts)
"""


@pytest.mark.parametrize("store", ["configured", "database"])
def test_two_processes_never_take_more_than_burst_plus_rate_times_window(transactional_db, store):
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_this_test(),
        "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
        "PYTHONPATH": str(ROOT),
    }
    if store == "database":
        env["SHARED_STORE_URL"] = ""  # the database's buckets even where Redis is configured
    key = f"test-shared-{uuid.uuid4().hex}"
    command = [sys.executable, "-c", HAMMER, key, str(RATE), str(BURST)]
    processes = [
        subprocess.Popen(  # noqa: S603
            command, env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for process in processes:
        lines = iter(process.stdout.readline, b"")
        assert any(line.strip() == b"ready" for line in lines), process.stderr.read().decode()
    start = time.time() + 0.2
    window = f"{start!r} {start + WINDOW_SECONDS!r}\n".encode()
    results = []
    for process in processes:
        process.stdin.write(window)
        process.stdin.flush()
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
        allowed, attempts = map(int, out.split())
        results.append((allowed, attempts))

    total = sum(allowed for allowed, _ in results)
    assert total <= BURST + RATE * WINDOW_SECONDS, results
    assert total >= BURST, results  # the bucket did let its burst through
    assert all(attempts > allowed for allowed, attempts in results), results  # both were refused too
    # Both processes saw one budget: where it lives is the configured store, or the database.
    bucket_reset(key=key)


def test_the_configured_store_is_redis_when_the_broker_is(settings):
    """With CELERY_BROKER_URL=redis://... the buckets live in Redis (the test above then covers it)."""
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        assert shared_redis() is not None
    else:
        assert shared_redis() is None


def test_a_bucket_refills_at_its_rate_and_never_beyond_its_burst(db):
    key = f"test-refill-{uuid.uuid4().hex}"
    now = 1_000_000.0
    taken = [bucket_take(key=key, rate=2, burst=3, now=now) for _ in range(4)]
    assert [take.allowed for take in taken] == [True, True, True, False]
    assert taken[-1].retry_after_seconds == 1
    assert bucket_take(key=key, rate=2, burst=3, now=now + 0.5).allowed  # one token in half a second
    assert not bucket_take(key=key, rate=2, burst=3, now=now + 0.5).allowed
    full = bucket_take(key=key, rate=2, burst=3, now=now + 3600)
    assert (full.allowed, full.remaining) == (True, 2)  # an hour later: full (3), less this one
    bucket_reset(key=key)
