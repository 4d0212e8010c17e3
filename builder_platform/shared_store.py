"""The store every process of a deployment shares: Redis at SHARED_STORE_URL, or none (the database then)."""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def shared_redis() -> redis.Redis | None:
    """One pooled client per URL and process; None when SHARED_STORE_URL is empty (the embedded mode)."""
    url = settings.SHARED_STORE_URL
    if not url:
        return None
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
                _clients[url] = client
    return client
