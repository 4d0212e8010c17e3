"""Logging helpers loaded by the LOGGING setting itself, so they import nothing from Django or the apps.

The context (request id, partner, task, order, customer) lives in a context variable: set per request by
builder_platform.request_ids, per task by builder_platform.task_context, and written on every line.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType


class ClientErrorLevelFilter(logging.Filter):
    """A caller's mistake is not a server error in our logs.

    Django logs a 5xx at ERROR, and a refused Host or an oversized body (django.security) at ERROR too.
    A 501 here is Parsec's own answer to an exchange/order-type combination it does not support: the
    partner's request, not our fault. Records about 4xx answers and 501 are lowered to WARNING.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status_code = getattr(record, "status_code", None)
        if (
            isinstance(status_code, int)
            and (status_code < 500 or status_code == 501)
            and record.levelno > logging.WARNING
        ):
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        return True


# --- Context: who a log line is about --------------------------------------------------------------

# The fields every record carries (empty when unknown). A request binds request_id and partner_id; a
# Celery task restores those from its message and adds its task_id and the order or customer it works on.
CONTEXT_FIELDS = ("request_id", "partner_id", "task_id", "order_id", "customer_id")

# The default is an empty mapping nobody mutates: binding always sets a new dict.
_EMPTY: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar("log_context", default=_EMPTY)

# A client's X-Request-Id is kept only when it is short and made of characters safe in any log or header.
REQUEST_ID_MAX_LENGTH = 128
_REQUEST_ID_PATTERN = re.compile(rf"[A-Za-z0-9._:@/+=-]{{1,{REQUEST_ID_MAX_LENGTH}}}")


def log_context() -> Mapping[str, str]:
    """The current context's fields (only those bound)."""
    return _context.get()


def log_context_bind(**fields: object) -> contextvars.Token:
    """Add fields to the current context (None leaves a field as it was); reset with the token."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"Unknown log context fields: {sorted(unknown)}")
    bound = {name: str(value) for name, value in fields.items() if value is not None and value != ""}
    return _context.set({**_context.get(), **bound})


def log_context_reset(token: contextvars.Token) -> None:
    _context.reset(token)


def log_context_start(**fields: object) -> None:
    """A fresh context holding only `fields` (a request's start: nothing of the one before stays)."""
    _context.set({})
    log_context_bind(**fields)


def log_context_clear() -> None:
    _context.set({})


def request_id_accept(raw: str | None) -> str | None:
    """A client-sent request id when it is sane (bounded, safe characters), else None."""
    if raw is None:
        return None
    value = raw.strip()
    return value if _REQUEST_ID_PATTERN.fullmatch(value) else None


def request_id_new() -> str:
    return uuid.uuid4().hex


class LogContextFilter(logging.Filter):
    """Puts the context's fields on every record (empty strings when unbound), for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for name in CONTEXT_FIELDS:
            if not getattr(record, name, None):
                setattr(record, name, context.get(name, ""))
        return True


# Attributes of a record that say something about the event itself and are safe to write out. Django's
# `request` (headers, cookies, body) and any other `extra` are never dumped: they can carry API keys.
_SAFE_EXTRA_FIELDS = ("status_code",)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, "") or _context.get().get(name, "")
            if value:
                entry[name] = str(value)
        for name in _SAFE_EXTRA_FIELDS:
            value = getattr(record, name, None)
            if isinstance(value, int | str):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Readable lines for development: the usual prefix and message, then the bound context as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = " ".join(
            f"{name}={value}"
            for name in CONTEXT_FIELDS
            if (value := getattr(record, name, "") or _context.get().get(name, ""))
        )
        if not context:
            return text
        first, newline, rest = text.partition("\n")  # a traceback stays below the line it belongs to
        return f"{first} [{context}]{newline}{rest}"
