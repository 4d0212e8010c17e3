"""The simulator's rate limits: a builder's QPS pool and each builder user's limit, over a sliding second.

Like Parsec, only impersonated calls (X-Builder-Customer-Id) draw from them. The simulator runs in
several server processes, so the window lives in the shared store (Redis at SHARED_STORE_URL) or, in the
embedded mode, in the database (SimRateHit rows). Every counted request is also logged with whether it
was accepted, so a test or a benchmark can read the most requests any one second saw.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from builder_platform.shared_store import shared_redis
from parsec.sim.models import SimBuilder, SimBuilderUser, SimRateHit

WINDOW_SECONDS = 1.0
# The statistics look back this far; older hits are deleted (the window needs only the last second).
KEEP_SECONDS = 600.0
REDIS_PREFIX = "sim:rate:"
REDIS_LOG_LENGTH = 200_000

# Counts the window of every limited scope, and records the request in all of them or in none.
_CHECK_SCRIPT = """
local now = tonumber(ARGV[1])
local member = ARGV[2]
local count = #KEYS - 1
local counts = {}
local refused = 0
for i = 1, count do
  local limit = tonumber(ARGV[2 + i])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - 1)
  local n = redis.call('ZCARD', KEYS[i])
  counts[i] = n
  if n >= limit and refused == 0 then
    refused = i
  end
end
local oldest = {}
if refused == 0 then
  for i = 1, count do
    redis.call('ZADD', KEYS[i], now, member)
    redis.call('PEXPIRE', KEYS[i], 2000)
    counts[i] = counts[i] + 1
  end
else
  oldest = redis.call('ZRANGE', KEYS[refused], 0, 0, 'WITHSCORES')
end
redis.call('RPUSH', KEYS[count + 1], ARGV[1] .. (refused == 0 and ':1' or ':0'))
redis.call('LTRIM', KEYS[count + 1], -tonumber(ARGV[3 + count]), -1)
local result = {refused, tostring(oldest[2] or now)}
for i = 1, count do
  result[#result + 1] = counts[i]
end
return result
"""


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    headers: dict[str, str] = field(default_factory=dict)
    retry_after_seconds: int = 0
    limit_qps: int | None = None  # the limit that refused it


def _limits(builder: SimBuilder, user: SimBuilderUser) -> list[tuple[str, str, int]]:
    """(scope, header name, limit) of each limit that is on for this call."""
    limits = []
    if settings.PARSEC_SIM_POOL_QPS > 0:
        limits.append((f"pool:{builder.pk}", "pool", int(settings.PARSEC_SIM_POOL_QPS)))
    user_limit = user.qps_limit or int(settings.PARSEC_SIM_USER_QPS)
    if user_limit > 0:
        limits.append((f"user:{user.customer_id}", "user", user_limit))
    return limits


def sim_rate_check(*, builder: SimBuilder, user: SimBuilderUser, now: float | None = None) -> Verdict | None:
    """Count one impersonated call; None when no limit is on. A refused call is counted as refused only."""
    limits = _limits(builder, user)
    if not limits:
        return None
    now = time.time() if now is None else now
    client = shared_redis()
    if client is not None:
        try:
            return _redis_check(client, limits=limits, builder=builder, now=now)
        except RedisError:
            pass  # the database's window then; a simulator has no outage of its own to mimic here
    return _database_check(limits=limits, builder=builder, now=now)


def _verdict(
    limits: list[tuple[str, str, int]], counts: list[int], *, refused: int, oldest: float, now: float
) -> Verdict:
    headers: dict[str, str] = {}
    for (_scope, name, limit), count in zip(limits, counts, strict=True):
        headers[f"x-ratelimit-{name}-limit"] = str(limit)
        headers[f"x-ratelimit-{name}-remaining"] = str(max(0, limit - count))
    if refused < 0:
        return Verdict(accepted=True, headers=headers)
    # The window frees a call when its oldest one is a second old; Parsec answers in whole seconds.
    retry_after = max(1, math.ceil(oldest + WINDOW_SECONDS - now))
    headers["Retry-After"] = str(retry_after)
    return Verdict(
        accepted=False, headers=headers, retry_after_seconds=retry_after, limit_qps=limits[refused][2]
    )


def _redis_check(client, *, limits: list[tuple[str, str, int]], builder: SimBuilder, now: float) -> Verdict:
    keys = [REDIS_PREFIX + scope for scope, _name, _limit in limits] + [_log_key(builder)]
    arguments = [repr(now), uuid.uuid4().hex, *[limit for _scope, _name, limit in limits], REDIS_LOG_LENGTH]
    refused, oldest, *counts = client.eval(_CHECK_SCRIPT, len(keys), *keys, *arguments)
    return _verdict(limits, [int(c) for c in counts], refused=int(refused) - 1, oldest=float(oldest), now=now)


def _log_key(builder: SimBuilder) -> str:
    return f"{REDIS_PREFIX}log:{builder.pk}"


@transaction.atomic
def _database_check(*, limits: list[tuple[str, str, int]], builder: SimBuilder, now: float) -> Verdict:
    # One lock per builder serialises its counted calls (SQLite's write lock does the same), so two
    # processes never both take the last place in a window.
    SimBuilder.objects.select_for_update().filter(pk=builder.pk).first()
    counts, refused, oldest = [], -1, now
    for index, (scope, _name, limit) in enumerate(limits):
        window = SimRateHit.objects.filter(scope=scope, accepted=True, at__gt=now - WINDOW_SECONDS)
        count = window.count()
        if count >= limit and refused < 0:
            refused = index
            oldest = window.order_by("at").values_list("at", flat=True).first() or now
        counts.append(count)
    accepted = refused < 0
    if accepted:
        counts = [count + 1 for count in counts]
    hits = [SimRateHit(scope=scope, at=now, accepted=accepted) for scope, _name, _limit in limits]
    if not any(scope.startswith("pool:") for scope, _n, _l in limits):
        hits.append(SimRateHit(scope=f"pool:{builder.pk}", at=now, accepted=accepted))  # the statistics
    SimRateHit.objects.bulk_create(hits)
    if int(now * 1000) % 997 == 0:  # now and then, not on every call
        SimRateHit.objects.filter(at__lt=now - KEEP_SECONDS).delete()
    return _verdict(limits, counts, refused=refused, oldest=oldest, now=now)


# --------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------


def max_in_one_second(times: list[float]) -> int:
    """The most of `times` any window of one second holds (a sliding window, not clock seconds)."""
    times = sorted(times)
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= WINDOW_SECONDS:
            start += 1
        best = max(best, end - start + 1)
    return best


def sim_rate_stats(*, builder: SimBuilder, since: float = 0.0) -> dict[str, object]:
    """What the pool saw since Unix time `since`: calls received, accepted, and the busiest second of each."""
    hits: list[tuple[float, bool]]
    client = shared_redis()
    if client is not None:
        entries = client.lrange(_log_key(builder), 0, -1)
        hits = []
        for entry in entries:
            at, _, accepted = entry.decode().rpartition(":")
            hits.append((float(at), accepted == "1"))
    else:
        hits = list(SimRateHit.objects.filter(scope=f"pool:{builder.pk}").values_list("at", "accepted"))
    hits = [(at, accepted) for at, accepted in hits if at >= since]
    received = [at for at, _ in hits]
    accepted = [at for at, ok in hits if ok]
    return {
        "pool_qps_limit": int(settings.PARSEC_SIM_POOL_QPS),
        "user_qps_limit": int(settings.PARSEC_SIM_USER_QPS),
        "since": since,
        "received": len(received),
        "accepted": len(accepted),
        "refused": len(received) - len(accepted),
        "max_received_in_one_second": max_in_one_second(received),
        "max_accepted_in_one_second": max_in_one_second(accepted),
    }


def sim_rate_stats_reset(*, builder: SimBuilder) -> None:
    """Forget the pool's log and windows (a test's or a benchmark's fresh start)."""
    client = shared_redis()
    if client is not None:
        keys = [_log_key(builder), f"{REDIS_PREFIX}pool:{builder.pk}"]
        keys += [key for key in client.scan_iter(f"{REDIS_PREFIX}user:*")]
        client.delete(*keys)
    SimRateHit.objects.all().delete()
