"""The process-wide ParsecClient, built from Django settings and rebuilt when they change."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable

from django.conf import settings

from builder_platform import metrics
from parsec.client import ParsecClient, RateLimiter

_lock = threading.Lock()
_client: ParsecClient | None = None
_client_fingerprint: tuple | None = None
# Builds the limiter pacing every call (the shared rate budget); apps to the right register it, so this
# module never imports them.
_limiter_factory: Callable[[], RateLimiter | None] | None = None


def register_rate_limiter(factory: Callable[[], RateLimiter | None]) -> None:
    """Hand the client builder the limiter factory (called from ratelimits' AppConfig.ready)."""
    global _limiter_factory
    _limiter_factory = factory
    reset_client()


def _fingerprint() -> tuple:
    # The key enters only as a digest, so the cached tuple never holds the secret itself. The pid
    # makes a forked worker build its own connection pool instead of sharing its parent's sockets.
    key_digest = hashlib.sha256(settings.PARSEC_API_KEY.encode()).hexdigest()
    return (
        os.getpid(),
        settings.PARSEC_BASE_URL,
        key_digest,
        float(settings.PARSEC_CONNECT_TIMEOUT),
        float(settings.PARSEC_READ_TIMEOUT),
        int(settings.PARSEC_READ_RETRIES),
        float(settings.PARSEC_KEEPALIVE_SECONDS),
        # The rate budget's figures: a change builds a new client with a new limiter.
        bool(settings.PARSEC_RATE_LIMIT_ENABLED),
        int(settings.PARSEC_POOL_QPS),
        int(settings.PARSEC_USER_QPS),
        float(settings.PARSEC_RATE_HEADROOM),
        float(settings.PARSEC_RATE_MAX_WAIT_SECONDS),
        _limiter_factory,
    )


def get_client() -> ParsecClient:
    """The ParsecClient for the current settings; one per process, shared by its threads."""
    global _client, _client_fingerprint
    fingerprint = _fingerprint()
    with _lock:
        if _client is None or _client_fingerprint != fingerprint:
            if (
                _client is not None
                and _client_fingerprint is not None
                and _client_fingerprint[0] == os.getpid()
            ):
                _client.close()
            _client = ParsecClient(
                base_url=settings.PARSEC_BASE_URL,
                api_key=settings.PARSEC_API_KEY,
                connect_timeout=float(settings.PARSEC_CONNECT_TIMEOUT),
                read_timeout=float(settings.PARSEC_READ_TIMEOUT),
                read_retries=int(settings.PARSEC_READ_RETRIES),
                keepalive_seconds=float(settings.PARSEC_KEEPALIVE_SECONDS),
                observer=metrics.parsec_call_observed,
                limiter=_limiter_factory() if _limiter_factory is not None else None,
            )
            _client_fingerprint = fingerprint
        return _client


def reset_client() -> None:
    """Close and forget the client; the next get_client() builds a new one from the settings."""
    global _client, _client_fingerprint
    with _lock:
        if _client is not None and _client_fingerprint is not None and _client_fingerprint[0] == os.getpid():
            _client.close()
        _client = None
        _client_fingerprint = None
