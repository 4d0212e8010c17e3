"""Per-process caches of the reads every request makes, dropped at once in every process on a change.

The API key with its partner and rate limit, the customer with its wallets and the active halts are
read on every order create. Each process keeps them in a ReadCache, and trusts what it holds only while
the deployment's generation is the one it read them under. Every change such a read must see at once
(a key revoked or created, a partner suspended, a customer disabled, a wallet linked, a halt set or
lifted, a rate limit changed) bumps the generation after its commit: Redis INCR on SHARED_STORE_URL
when there is one, else an UPDATE of one database row (ReadGeneration). The bump comes from the
models themselves (signals, and a queryset whose update() bumps: GenerationBumpingQuerySet), so an
admin save, a service and a one-off shell command are all covered.

Why a revoked key cannot be accepted once the revoke's commit has returned:
- the bump runs in transaction.on_commit, which Django runs right after COMMIT and before the atomic
  block (so the revoking service) returns: when the revoke returns, the generation has moved;
- a reader reads the generation *before* it reads the database, and stores what it read under that
  generation. So a value read before the commit is stored under a generation older than the bump, and
  the next request, which reads the new generation, drops it; a value stored under the new generation
  was read after the bump, hence after the commit, and is the new one. A cache only moves forward: a
  value read under an older generation than the one a process has seen is used once, never stored;
- inside a transaction that changed a cached model nothing is read from or stored in the cache: it sees
  its own uncommitted changes, which would stay cached if it rolled back (no commit, no bump).
Bumping before the commit as well would add nothing: a value read between that bump and the commit
would be the old one, stored under the new generation. What is left is a process that dies between its
COMMIT and its INCR (or a Redis that refuses the INCR): READ_CACHE_MAX_AGE_SECONDS bounds how long any
process keeps a value, however the generation stands. When the generation cannot be read (Redis down),
the caches are bypassed, not trusted.

A request reads the generation once (ReadGenerationMiddleware), so its three cached reads cost one
Redis GET, or one primary-key read in the embedded mode, instead of three queries.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F
from redis.exceptions import RedisError

from builder_platform.shared_store import shared_redis
from generations.models import ReadGeneration

logger = logging.getLogger(__name__)

REDIS_KEY = "read-cache-generation"
# A process keeps at most this many values per cache; beyond, it starts again from empty (a partner
# with thousands of customers costs a query per customer now and then, never unbounded memory).
MAX_ENTRIES = 10_000

T = TypeVar("T")
_UNREAD = object()
_request_generation: contextvars.ContextVar[Any] = contextvars.ContextVar("read_generation", default=None)
_caches: list[ReadCache] = []


def _generation_fetch() -> int | None:
    client = shared_redis()
    if client is not None:
        try:
            value = client.get(REDIS_KEY)
        except RedisError:
            return None
        return int(value) if value is not None else 0
    try:
        value = ReadGeneration.objects.filter(pk=ReadGeneration.SINGLETON_ID).values_list("value", flat=True)
        return next(iter(value), 0)
    except DatabaseError:
        return None


def generation_current() -> int | None:
    """The deployment's generation now (None when it cannot be read: trust no cache then).

    Read once per request inside ReadGenerationMiddleware, else on every call.
    """
    snapshot = _request_generation.get()
    if snapshot is None:
        return _generation_fetch()
    if snapshot[0] is _UNREAD:
        snapshot[0] = _generation_fetch()
    return snapshot[0]


@contextmanager
def generation_snapshot() -> Iterator[None]:
    """Inside: the generation is read at most once (at first use) and reused."""
    token = _request_generation.set([_UNREAD])
    try:
        yield
    finally:
        _request_generation.reset(token)


def _generation_increment() -> None:
    snapshot = _request_generation.get()
    if snapshot is not None:
        snapshot[0] = _UNREAD  # this request's own change: its later reads look again
    client = shared_redis()
    if client is not None:
        try:
            client.incr(REDIS_KEY)
        except RedisError:
            # The change is committed; caches elsewhere keep the old value until their maximum age.
            logger.exception(
                "read cache generation not bumped (Redis); caches expire within %ss",
                settings.READ_CACHE_MAX_AGE_SECONDS,
            )
        return
    updated = ReadGeneration.objects.filter(pk=ReadGeneration.SINGLETON_ID).update(value=F("value") + 1)
    if not updated:
        ReadGeneration.objects.bulk_create(
            [ReadGeneration(id=ReadGeneration.SINGLETON_ID, value=1)], ignore_conflicts=True
        )
        ReadGeneration.objects.filter(pk=ReadGeneration.SINGLETON_ID).update(value=F("value") + 1)


def _bump_pending() -> bool:
    return any(callback is _generation_increment for _, callback, _ in connection.run_on_commit)


def generation_bump() -> None:
    """Every process's read caches are stale once the current transaction commits (at once outside one).

    Several changes in one transaction bump once.
    """
    if not connection.in_atomic_block:
        _generation_increment()
        return
    if not _bump_pending():
        transaction.on_commit(_generation_increment)


class ReadCache:
    """Values loaded from the database, kept while the generation they were read under is current."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._since = 0.0
        self._entries: dict[Hashable, Any] = {}
        _caches.append(self)

    def get(self, key: Hashable, load: Callable[[], T], *, in_transaction: bool = False) -> T:
        """The cached value for `key`, else load() (stored unless it is None).

        `in_transaction`: also inside a transaction, as long as it has changed no cached model (no bump
        pending): what it reads of them is then what is committed (PostgreSQL's READ COMMITTED reads
        the latest commit at each statement; SQLite's IMMEDIATE transaction holds the write lock, so
        nothing commits meanwhile), exactly as outside one. For a read made only inside transactions
        (a partner's webhook endpoints, read in each event's).
        """
        max_age = settings.READ_CACHE_MAX_AGE_SECONDS
        if max_age <= 0:
            return load()
        if connection.in_atomic_block and (not in_transaction or _bump_pending()):
            return load()
        generation = generation_current()
        if generation is None:
            return load()
        now = time.monotonic()
        with self._lock:
            if self._generation is not None and generation < self._generation:
                stored = False  # read under an older generation than this process has seen
            else:
                if generation != self._generation or now - self._since > max_age:
                    self._generation, self._since, self._entries = generation, now, {}
                stored = True
                found = self._entries.get(key, _UNREAD)
        if stored and found is not _UNREAD:
            return found
        value = load()
        if stored and value is not None:
            with self._lock:
                if self._generation == generation:
                    if len(self._entries) >= MAX_ENTRIES:
                        self._entries = {}
                    self._entries[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation, self._entries = None, {}


def read_caches_clear() -> None:
    """Forget every cached value of this process (tests: a flushed database restarts the generation)."""
    for cache in _caches:
        cache.clear()


class GenerationBumpingQuerySet(models.QuerySet):
    """update() and bulk writes of a cached model bump the generation (signals do not see them).

    `generation_ignored_fields` on the model names columns no cached read depends on (a key's
    last_used_at, written on every minute of use): an update of only those bumps nothing.
    """

    def update(self, **kwargs: Any) -> int:
        rows = super().update(**kwargs)
        ignored = getattr(self.model, "generation_ignored_fields", frozenset())
        if rows and not set(kwargs) <= ignored:
            generation_bump()
        return rows

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        rows = super().bulk_update(objs, fields, batch_size=batch_size)
        generation_bump()
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        generation_bump()
        return created


def _bump_on_signal(sender, **kwargs) -> None:
    update_fields = kwargs.get("update_fields")
    ignored = getattr(sender, "generation_ignored_fields", frozenset())
    if update_fields is not None and set(update_fields) <= ignored:
        return
    generation_bump()


def generation_bumped_by(*model_classes: type[models.Model]) -> None:
    """Saves and deletes of these models (admin's included) bump the generation; from AppConfig.ready."""
    for model in model_classes:
        label = model._meta.label
        models.signals.post_save.connect(_bump_on_signal, sender=model, dispatch_uid=f"generation:{label}")
        models.signals.post_delete.connect(
            _bump_on_signal, sender=model, dispatch_uid=f"generation-delete:{label}"
        )


class ReadGenerationMiddleware:
    """One generation read per request, shared by its cached reads."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with generation_snapshot():
            return self.get_response(request)
