"""A token bucket every process shares: in Redis when there is one (SHARED_STORE_URL), else in the database.

A bucket holds up to `burst` tokens and refills at `rate` tokens a second; each request takes one. Over
any window of T seconds at most burst + rate x T requests pass, however many processes ask.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.db import transaction
from redis.exceptions import RedisError

from builder_platform.shared_store import shared_redis
from ratelimits.models import RateBucket

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "ratelimit:"

# Floats are written as strings with all 17 significant digits. Redis would truncate a Lua number to an
# integer, and Lua's tostring keeps only 14: a Unix time of 1765123456.123456 was stored as 1765123456.1235,
# a refill instant a few tens of microseconds in the future, which the next taker at the same instant read
# as a pause (and the pool "a hair under one token").
_LUA_NUMBER = """
local function num(x)
  return string.format('%.17g', x)
end
"""

# Atomic in Redis: read, refill, take and write in one step, so concurrent takes never overspend.
_TAKE_SCRIPT = (
    _LUA_NUMBER
    + """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
tokens = math.min(burst, tokens)
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', num(tokens), 'at', num(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, num(tokens)}
"""
)


@dataclass(frozen=True)
class Take:
    """What one request got from its bucket, and the figures the X-RateLimit-* headers report."""

    allowed: bool
    limit: int  # the bucket's size (burst)
    remaining: int  # whole requests left now
    reset_seconds: int  # until the bucket is full again
    retry_after_seconds: int  # until one request passes (0 when this one did)


def _take_from(tokens_left: float, *, allowed: bool, rate: float, burst: int) -> Take:
    tokens_left = max(0.0, tokens_left)
    return Take(
        allowed=allowed,
        limit=burst,
        remaining=math.floor(tokens_left),
        reset_seconds=math.ceil((burst - tokens_left) / rate),
        retry_after_seconds=0 if allowed else max(1, math.ceil((1 - tokens_left) / rate)),
    )


def bucket_take(*, key: str, rate: float, burst: int, now: float) -> Take:
    """Take one token from bucket `key` (rate tokens/s, up to burst) at Unix time `now`."""
    client = shared_redis()
    if client is not None:
        try:
            allowed, tokens = client.eval(_TAKE_SCRIPT, 1, REDIS_KEY_PREFIX + key, rate, burst, now)
        except RedisError as error:
            # An outage of the shared store must not take the API down with it: the request passes.
            logger.warning("rate limit store unavailable, %s not counted: %s", key, error)
            return Take(allowed=True, limit=burst, remaining=burst, reset_seconds=0, retry_after_seconds=0)
        return _take_from(float(tokens), allowed=bool(allowed), rate=rate, burst=burst)
    return _database_take(key=key, rate=rate, burst=burst, now=now)


@transaction.atomic
def _database_take(*, key: str, rate: float, burst: int, now: float) -> Take:
    # The row is created once (a concurrent creator's insert is ignored), then locked for the update:
    # PostgreSQL's row lock, or SQLite's write lock taken at BEGIN (IMMEDIATE), serialises takers.
    RateBucket.objects.bulk_create(
        [RateBucket(key=key, tokens=burst, refilled_at=now)], ignore_conflicts=True
    )
    bucket = RateBucket.objects.select_for_update().get(key=key)
    tokens = min(float(burst), bucket.tokens)
    at = bucket.refilled_at
    if now > at:
        tokens = min(float(burst), tokens + (now - at) * rate)
        at = now
    allowed = tokens >= 1
    if allowed:
        tokens -= 1
    RateBucket.objects.filter(key=key).update(tokens=tokens, refilled_at=at)
    return _take_from(tokens, allowed=allowed, rate=rate, burst=burst)


def bucket_reset(*, key: str) -> None:
    """Forget a bucket (it starts full again): for an operator, and for tests."""
    client = shared_redis()
    if client is not None:
        client.delete(REDIS_KEY_PREFIX + key)
    RateBucket.objects.filter(key=key).delete()


# A bucket untouched this long is full again under any configured limit (burst / rate is at most
# PARTNER_API_BURST s, and a minute for sign-in challenges): deleting it changes nothing.
PURGE_AFTER_SECONDS = 24 * 3600


def buckets_purge(*, now: float) -> int:
    """Delete database buckets nobody used for a day (Redis keys expire by themselves)."""
    deleted, _ = RateBucket.objects.filter(refilled_at__lt=now - PURGE_AFTER_SECONDS).delete()
    return deleted


# --------------------------------------------------------------------------------------------------
# Several buckets at once, with a reserve, and pauses (the shared Parsec budget)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BucketSpec:
    """One bucket a call draws from; `reserve` tokens are left for callers of higher priority."""

    key: str
    rate: float
    burst: int
    reserve: float = 0.0


@dataclass(frozen=True)
class MultiTake:
    allowed: bool
    wait_seconds: float  # until every bucket could give this caller a token (0 when it got them)


# All buckets give a token or none does, so a call refused by one scope never spends another's.
# A bucket whose `at` lies in the future is paused: nothing refills before then.
_TAKE_ALL_SCRIPT = (
    _LUA_NUMBER
    + """
local now = tonumber(ARGV[1])
local count = #KEYS
local tokens = {}
local ats = {}
local wait = 0
for i = 1, count do
  local rate = tonumber(ARGV[2 + (i - 1) * 3])
  local burst = tonumber(ARGV[3 + (i - 1) * 3])
  local reserve = tonumber(ARGV[4 + (i - 1) * 3])
  local state = redis.call('HMGET', KEYS[i], 'tokens', 'at')
  local t = tonumber(state[1])
  local at = tonumber(state[2])
  if t == nil or at == nil then
    t = burst
    at = now
  end
  if now > at then
    t = math.min(burst, t + (now - at) * rate)
    at = now
  end
  t = math.min(burst, t)
  tokens[i] = t
  ats[i] = at
  local need = 1 + reserve - t
  local w = math.max(0, at - now)
  if need > 0 then
    w = w + need / rate
  end
  if w > wait then
    wait = w
  end
end
local allowed = 0
if wait <= 0 then
  allowed = 1
  for i = 1, count do
    tokens[i] = tokens[i] - 1
  end
end
for i = 1, count do
  local rate = tonumber(ARGV[2 + (i - 1) * 3])
  local burst = tonumber(ARGV[3 + (i - 1) * 3])
  redis.call('HSET', KEYS[i], 'tokens', num(tokens[i]), 'at', num(ats[i]))
  local ttl = math.ceil((burst / rate + math.max(0, ats[i] - now)) * 1000) + 1000
  redis.call('PEXPIRE', KEYS[i], ttl)
end
return {allowed, num(wait)}
"""
)

# Pausing: no tokens, and none refill before `until` (a later pause never shortens an earlier one).
_PAUSE_SCRIPT = (
    _LUA_NUMBER
    + """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local untill = tonumber(ARGV[4])
local at = tonumber(redis.call('HGET', KEYS[1], 'at'))
if at ~= nil and at > untill then
  untill = at
end
redis.call('HSET', KEYS[1], 'tokens', '0', 'at', num(untill))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate + math.max(0, untill - now)) * 1000) + 1000)
return 1
"""
)


def _wait_for(tokens: float, at: float, *, spec: BucketSpec, now: float) -> float:
    need = 1 + spec.reserve - tokens
    return max(0.0, at - now) + (need / spec.rate if need > 0 else 0.0)


def buckets_take_all(*, specs: list[BucketSpec], now: float) -> MultiTake:
    """One token from every bucket in `specs` at Unix time `now`, or none when any has too few."""
    client = shared_redis()
    if client is not None:
        arguments: list[float] = [now]
        for spec in specs:
            arguments += [spec.rate, spec.burst, spec.reserve]
        keys = [REDIS_KEY_PREFIX + spec.key for spec in specs]
        try:
            allowed, wait = client.eval(_TAKE_ALL_SCRIPT, len(keys), *keys, *arguments)
        except RedisError as error:
            # As for partners' limits, an outage of the store does not stop the calls; Parsec's own
            # 429s still pace them.
            logger.warning("rate limit store unavailable, a Parsec call not counted: %s", error)
            return MultiTake(allowed=True, wait_seconds=0.0)
        return MultiTake(allowed=bool(allowed), wait_seconds=float(wait))
    return _database_take_all(specs=specs, now=now)


@transaction.atomic
def _database_take_all(*, specs: list[BucketSpec], now: float) -> MultiTake:
    # Rows locked in key order, so two takers of the same buckets never deadlock.
    ordered = sorted(specs, key=lambda spec: spec.key)
    RateBucket.objects.bulk_create(
        [RateBucket(key=spec.key, tokens=spec.burst, refilled_at=now) for spec in ordered],
        ignore_conflicts=True,
    )
    rows = {
        row.key: row
        for row in RateBucket.objects.select_for_update()
        .filter(key__in=[s.key for s in ordered])
        .order_by("key")
    }
    states: list[tuple[BucketSpec, float, float]] = []
    wait = 0.0
    for spec in ordered:
        row = rows[spec.key]
        tokens, at = min(float(spec.burst), row.tokens), row.refilled_at
        if now > at:
            tokens, at = min(float(spec.burst), tokens + (now - at) * spec.rate), now
        states.append((spec, tokens, at))
        wait = max(wait, _wait_for(tokens, at, spec=spec, now=now))
    allowed = wait <= 0
    for spec, tokens, at in states:
        RateBucket.objects.filter(key=spec.key).update(
            tokens=tokens - 1 if allowed else tokens, refilled_at=at
        )
    return MultiTake(allowed=allowed, wait_seconds=wait)


def bucket_pause(*, spec: BucketSpec, until: float, now: float) -> None:
    """Empty bucket `spec.key` and refill nothing before Unix time `until`, for every process."""
    client = shared_redis()
    if client is not None:
        try:
            client.eval(_PAUSE_SCRIPT, 1, REDIS_KEY_PREFIX + spec.key, spec.rate, spec.burst, now, until)
        except RedisError as error:
            logger.warning("rate limit store unavailable, %s not paused: %s", spec.key, error)
        return
    with transaction.atomic():
        RateBucket.objects.bulk_create(
            [RateBucket(key=spec.key, tokens=0, refilled_at=until)], ignore_conflicts=True
        )
        bucket = RateBucket.objects.select_for_update().get(key=spec.key)
        RateBucket.objects.filter(key=spec.key).update(tokens=0, refilled_at=max(bucket.refilled_at, until))
