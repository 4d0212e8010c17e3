"""The process-wide ParsecClient, built from Django settings and rebuilt when they change."""

from __future__ import annotations

import hashlib
import os
import threading

from django.conf import settings

from builder_platform import metrics
from parsec.client import ParsecClient

_lock = threading.Lock()
_client: ParsecClient | None = None
_client_fingerprint: tuple | None = None


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
                observer=metrics.parsec_call_observed,
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
