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

# Atomic in Redis: read, refill, take and write in one step, so concurrent takes never overspend.
# Floats go back as strings (Redis would truncate a Lua number to an integer).
_TAKE_SCRIPT = """
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
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(tokens)}
"""


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
