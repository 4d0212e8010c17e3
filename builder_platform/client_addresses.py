"""The address a request came from: REMOTE_ADDR, or X-Forwarded-For behind TRUSTED_PROXY_COUNT proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings


def client_ip(meta: Mapping[str, str], *, trusted_proxies: int | None = None) -> str:
    """The client's IP address for a request's META.

    With no trusted proxy, X-Forwarded-For is the client's own say and is ignored. Behind N proxies,
    each appends the address it received the request from, so the client is the N-th entry from the
    right: entries further left were written by the client and can be anything.
    """
    count = settings.TRUSTED_PROXY_COUNT if trusted_proxies is None else trusted_proxies
    remote = meta.get("REMOTE_ADDR", "") or ""
    if count <= 0:
        return remote
    forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    candidate = forwarded[-count] if len(forwarded) >= count else forwarded[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
