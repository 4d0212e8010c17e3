"""One Parsec rate budget for the whole deployment: every call to Parsec, from any process, takes a
token from the builder's pool bucket and from its builder user's bucket, both in the shared store.

Parsec counts the pool (and each builder user's `qps_limit`) over the whole deployment, so a limit per
process is wrong as soon as there are two workers. The buckets spend a little under the limit
(PARSEC_RATE_HEADROOM) with a small burst, so that over any one-second window at most about
limit x (1 - headroom) calls go out. Priorities: a read leaves the last tokens of a bucket to creates and
cancels, a create leaves the last one to cancels, so a cancel is never stuck behind a backlog of reads.
A 429, or an answer saying a scope has 0 calls left, pauses that scope for every process.

Parsec counts a call when it arrives, not when its token was taken here: a thread that took a token and was
then held up (behind the GIL, a busy core, the venue's accept queue) arrives together with later ones, and
a window at Parsec can hold a few more calls than the bucket let out in any second. So the budget also
listens to the remaining counts Parsec answers with: when a scope's window has no more than a burst's worth
of room left, that scope eases off for a few tokens' time, in every process, before it is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Mapping

from django.conf import settings

from parsec.client import CallPriority
from ratelimits.buckets import BucketSpec, MultiTake, bucket_pause, buckets_take_all

logger = logging.getLogger(__name__)

KEY_PREFIX = "parsec:"
# The burst: a few percent of the limit, at least 3 so that the priorities' reserves fit in it.
BURST_FRACTION = 0.03
MIN_BURST = 3
# What a read leaves in a bucket for creates and cancels, and a create for cancels, as fractions of the
# burst (never the whole of it: the lowest priority still gets every token above its reserve).
RESERVE_FRACTIONS = {CallPriority.READ: 2 / 3, CallPriority.CREATE: 1 / 3, CallPriority.CANCEL: 0.0}
# With no per-user limit of ours the user's bucket still exists, to hold Parsec's pauses of that user.
UNLIMITED_RATE = 1_000_000_000.0
# How long a scope pauses when Parsec says it has 0 calls left but names no reset: its window's length.
DEFAULT_PAUSE_SECONDS = 1.0
POOL_REMAINING = "x-ratelimit-pool-remaining"
USER_REMAINING = "x-ratelimit-user-remaining"


def budget_figures(*, limit: int, headroom: float) -> tuple[float, int]:
    """(rate, burst) of a bucket spending at most limit x (1 - headroom) calls in any one second."""
    spend = limit * (1 - min(max(headroom, 0.0), 0.9))
    burst = max(1, min(max(MIN_BURST, math.ceil(limit * BURST_FRACTION)), math.floor(spend / 2)))
    return spend - burst, burst


def _spec(key: str, *, rate: float, burst: int, priority: CallPriority) -> BucketSpec:
    reserve = min(RESERVE_FRACTIONS[priority] * burst, burst - 1)
    return BucketSpec(key=key, rate=rate, burst=burst, reserve=max(0.0, reserve))


class SharedParsecBudget:
    """The RateLimiter handed to the ParsecClient (see parsec.client.RateLimiter)."""

    def __init__(
        self,
        *,
        scope: str,
        pool_qps: int,
        user_qps: int,
        headroom: float,
        max_wait_seconds: float,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.scope = scope  # names one builder account (one pool) in the shared store
        self.pool_rate, self.pool_burst = budget_figures(limit=pool_qps, headroom=headroom)
        self.user_limited = user_qps > 0
        if self.user_limited:
            self.user_rate, self.user_burst = budget_figures(limit=user_qps, headroom=headroom)
        else:
            self.user_rate, self.user_burst = UNLIMITED_RATE, int(UNLIMITED_RATE)
        self.max_wait_seconds = max(0.0, max_wait_seconds)
        # Swappable so tests of the priorities run on a clock of their own.
        self._clock = clock
        self._sleep = sleep
        # The threads of this process waiting for a token, by priority: arrival tickets. Each waiter sleeps
        # until the next token plus one token's time per earlier waiter of its priority, so that about one
        # waiter wakes per token. Without this, every thread of a 32-thread io worker slept until the same
        # next token, woke together, and all but one asked the store again for nothing: a round trip and a
        # wake-up per waiter per token, CPU the orders pipeline needed. No lock is held while sleeping, so
        # a waiter for a paused user never holds back another user's call.
        self._waiting_lock = threading.Lock()
        self._waiting: dict[CallPriority, set[int]] = {priority: set() for priority in CallPriority}
        self._tickets = itertools.count()

    def __repr__(self) -> str:
        return f"<SharedParsecBudget {self.scope} pool {self.pool_rate:g}/s burst {self.pool_burst}>"

    # -- scopes ------------------------------------------------------------------------------------

    def pool_key(self) -> str:
        return f"{KEY_PREFIX}{self.scope}:pool"

    def user_key(self, customer_id: str) -> str:
        return f"{KEY_PREFIX}{self.scope}:user:{customer_id}"

    def _pool_spec(self, priority: CallPriority) -> BucketSpec:
        return _spec(self.pool_key(), rate=self.pool_rate, burst=self.pool_burst, priority=priority)

    def _user_spec(self, customer_id: str, priority: CallPriority) -> BucketSpec:
        if not self.user_limited:
            return BucketSpec(key=self.user_key(customer_id), rate=self.user_rate, burst=self.user_burst)
        return _spec(
            self.user_key(customer_id), rate=self.user_rate, burst=self.user_burst, priority=priority
        )

    def specs(self, *, customer_id: str | None, priority: CallPriority) -> list[BucketSpec]:
        specs = [self._pool_spec(priority)]
        if customer_id is not None:
            specs.append(self._user_spec(customer_id, priority))
        return specs

    # -- the RateLimiter protocol ------------------------------------------------------------------

    def try_acquire(self, *, customer_id: str | None, priority: CallPriority, now: float) -> MultiTake:
        """One attempt at Unix time `now`: the tokens, or how long until this priority could have them."""
        return buckets_take_all(specs=self.specs(customer_id=customer_id, priority=priority), now=now)

    def acquire(self, *, customer_id: str | None, priority: CallPriority) -> float | None:
        started = self._clock()
        deadline = started + self.max_wait_seconds
        take = self.try_acquire(customer_id=customer_id, priority=priority, now=started)
        if take.allowed:
            return None  # the common case: a token at once
        ticket = next(self._tickets)
        waiting = self._waiting[priority]
        with self._waiting_lock:
            waiting.add(ticket)
        try:
            while True:
                now = self._clock()
                if now + take.wait_seconds > deadline:
                    return self._refused(priority, wait=take.wait_seconds)
                with self._waiting_lock:
                    ahead = sum(1 for other in waiting if other < ticket)
                # Until this waiter's turn among this process's waiters, and a little jitter so that the
                # waiting threads of all processes do not ask all at once.
                self._sleep(take.wait_seconds + ahead / self.pool_rate + random.uniform(0, 0.002))
                take = self.try_acquire(customer_id=customer_id, priority=priority, now=self._clock())
                if take.allowed:
                    return None
        finally:
            with self._waiting_lock:
                waiting.discard(ticket)

    def _refused(self, priority: CallPriority, *, wait: float) -> float:
        # Not sent; the caller's own retry policy takes over (a task's countdown).
        logger.info(
            "parsec rate budget %s: no token within %.1f s (%s)",
            self.scope,
            self.max_wait_seconds,
            priority.name.lower(),
        )
        return max(wait, 0.001)

    def on_response(
        self,
        *,
        customer_id: str | None,
        status: int,
        headers: Mapping[str, str],
        retry_after: float | None,
    ) -> None:
        pool_left = _count(headers, POOL_REMAINING)
        user_left = _count(headers, USER_REMAINING) if customer_id is not None else None
        pool_spent = pool_left == 0
        user_spent = user_left == 0
        if status == 429 and not user_spent:
            pool_spent = True  # a refusal naming no scope: the pool, the one every call shares
        if not (pool_spent or user_spent):
            self._ease_off(customer_id, pool_left=pool_left, user_left=user_left)
            return
        now = self._clock()
        pause = retry_after if status == 429 and retry_after is not None else DEFAULT_PAUSE_SECONDS
        until = now + max(pause, 0.0)
        if pool_spent:
            logger.info(
                "parsec rate budget %s: pool paused for %.1f s (status %s)", self.scope, pause, status
            )
            bucket_pause(spec=self._pool_spec(CallPriority.CANCEL), until=until, now=now)
        if user_spent and customer_id is not None:
            bucket_pause(spec=self._user_spec(customer_id, CallPriority.CANCEL), until=until, now=now)

    def _ease_off(self, customer_id: str | None, *, pool_left: int | None, user_left: int | None) -> None:
        """Slow a scope whose window at Parsec is nearly full, before Parsec refuses a call of it.

        With `left` calls of room and up to a burst of tokens (and the calls already on their way) still
        to arrive, the scope's bucket is emptied and its next token comes (burst + 1 - left) tokens' time
        later. The pause is shared, and a pause never shortens another, so answers arriving together ease
        the scope once, not once each.
        """
        now = self._clock()
        if pool_left is not None and pool_left <= self.pool_burst:
            skip = (self.pool_burst - pool_left) / self.pool_rate
            bucket_pause(spec=self._pool_spec(CallPriority.CANCEL), until=now + skip, now=now)
        if customer_id is not None and self.user_limited and user_left is not None:
            skip = (self.user_burst - user_left) / self.user_rate
            if skip >= 0:
                bucket_pause(
                    spec=self._user_spec(customer_id, CallPriority.CANCEL), until=now + skip, now=now
                )


def _count(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw.strip())


def budget_scope(*, base_url: str, api_key: str) -> str:
    """The pool a key draws from, named by a digest: the shared store never holds the key itself."""
    return hashlib.sha256(f"{base_url}\n{api_key}".encode()).hexdigest()[:16]


def budget_from_settings() -> SharedParsecBudget | None:
    """The budget of the configured Parsec account; None when PARSEC_RATE_LIMIT_ENABLED is off."""
    if not settings.PARSEC_RATE_LIMIT_ENABLED:
        return None
    return SharedParsecBudget(
        scope=budget_scope(base_url=settings.PARSEC_BASE_URL, api_key=settings.PARSEC_API_KEY),
        pool_qps=int(settings.PARSEC_POOL_QPS),
        user_qps=int(settings.PARSEC_USER_QPS),
        headroom=float(settings.PARSEC_RATE_HEADROOM),
        max_wait_seconds=float(settings.PARSEC_RATE_MAX_WAIT_SECONDS),
    )
