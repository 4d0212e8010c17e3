"""The field groups order transitions write together, written once: leaving submission, in doubt, ended."""

from __future__ import annotations

from datetime import datetime
from typing import Any

ERROR_CODE_LENGTH = 64  # Order.last_error_code
ERROR_MESSAGE_LENGTH = 2000  # what is kept of a message


def error_fields(code: str, message: str) -> dict[str, Any]:
    """The order's last error, cut to what its columns keep ("" and "" clear it)."""
    return {
        "last_error_code": str(code)[:ERROR_CODE_LENGTH],
        "last_error_message": message[:ERROR_MESSAGE_LENGTH],
    }


def misses_cleared() -> dict[str, Any]:
    """A fresh start for reconciliation's count of listings without the order."""
    return {"reconcile_misses": 0, "first_miss_at": None}


def in_doubt_fields(*, cause: str, message: str) -> dict[str, Any]:
    """An order whose create may or may not have arrived: off submission, counted afresh, reason kept."""
    return {"submitting_since": None, **misses_cleared(), **error_fields(cause, message)}


def ended_fields(*, now: datetime) -> dict[str, Any]:
    """An order that ends without Parsec holding it: nothing more to send, its fee closed now."""
    return {"submitting_since": None, "next_attempt_at": None, "settled_at": now}
