"""Fault injection: the failures a client of Parsec must survive, on demand or at seeded random rates.

A fault is named per request in the ``X-Sim-Fault`` header, or drawn from PARSEC_SIM_FAULT_RATES.
Faults before the handler leave the simulator's state untouched; ``apply-then-drop`` lets the handler
commit and then closes the connection without an answer.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from parsec.contract import BadRequest
from parsec.sim.fault_names import (  # noqa: F401 - the names are used as faults.ERROR_503, ...
    APPLY_THEN_DROP,
    ERROR_500,
    ERROR_503,
    FAULTS,
    LATENCY,
    RATE_LIMIT,
    TIMEOUT_BEFORE_APPLY,
)

FAULT_HEADER = "HTTP_X_SIM_FAULT"

_rng_lock = threading.Lock()
_rng: tuple[int, random.Random] | None = None


def _draw() -> float:
    global _rng
    seed = settings.PARSEC_SIM_SEED
    with _rng_lock:
        if _rng is None or _rng[0] != seed:
            _rng = (seed, random.Random(seed))
        return _rng[1].random()


def choose_fault(request: HttpRequest) -> str | None:
    """The fault for this request: the header's, else one drawn from the configured rates, else None."""
    named = request.META.get(FAULT_HEADER)
    if named:
        named = named.strip().lower()
        if named not in FAULTS:
            raise BadRequest(f"X-Sim-Fault must be one of {', '.join(FAULTS)}", field="X-Sim-Fault")
        return named
    rates: dict[str, float] = settings.PARSEC_SIM_FAULT_RATES
    if not rates:
        return None
    # One draw per request against the cumulative rates, in a fixed order, so a seed replays exactly.
    draw = _draw()
    threshold = 0.0
    for name in FAULTS:
        threshold += max(0.0, rates.get(name, 0.0))
        if draw < threshold:
            return name
    return None


def request_socket(request: HttpRequest) -> socket.socket | None:
    """The client connection under this request, where the WSGI server lets us reach it.

    gunicorn hands it over as ``gunicorn.socket``. Django's development and live servers do not, but
    their ``wsgi.input`` is a stream over the socket's file object, which leads back to the socket.
    """
    environ: dict[str, Any] = request.META
    candidate = environ.get("gunicorn.socket")
    if isinstance(candidate, socket.socket):
        return candidate
    node: Any = environ.get("wsgi.input")
    for _depth in range(8):
        if node is None:
            return None
        if isinstance(node, socket.socket):
            return node
        next_node = None
        for attribute in ("_sock", "raw", "stream", "_stream", "rfile"):
            next_node = getattr(node, attribute, None)
            if next_node is not None:
                break
        if next_node is None:
            # django.core.handlers.wsgi.LimitedStream keeps only the bound read method.
            next_node = getattr(getattr(node, "_read", None), "__self__", None)
        node = next_node
    return None


def _client_has_gone(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def hold(request: HttpRequest, seconds: float) -> bool:
    """Wait up to ``seconds`` without answering; True if the client hung up meanwhile (stops early)."""
    deadline = time.monotonic() + seconds
    sock = request_socket(request)
    if sock is None:
        time.sleep(seconds)
        return False
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            readable, _, _ = select.select([sock], [], [], min(remaining, 0.1))
        except (OSError, ValueError):
            return True
        if readable:
            if _client_has_gone(sock):
                return True
            time.sleep(min(remaining, 0.05))  # bytes of a next request; keep holding
    return False


def drop_connection(request: HttpRequest) -> bool:
    """Close the client connection with no answer; False if the socket is out of reach."""
    sock = request_socket(request)
    if sock is None:
        return False
    with contextlib.suppress(OSError):  # already gone: just as dropped
        sock.shutdown(socket.SHUT_RDWR)
    return True


def sleep_latency() -> None:
    time.sleep(max(0.0, settings.PARSEC_SIM_LATENCY_SECONDS))
