"""Small value helpers every app shares: parsing an id that may be malformed, writing a decimal plainly."""

import uuid
from decimal import Decimal
from typing import Any


def uuid_or_none(value: Any) -> uuid.UUID | None:
    """The UUID `value` names, or None when it names none (malformed, empty, not a string)."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except (TypeError, ValueError, AttributeError):
        return None


def plain_decimal(value: Decimal) -> Decimal:
    """100.000000 -> 100, 0.650000 -> 0.65: the same number without padding zeros, exactly."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        normalized = normalized.quantize(Decimal(1))
    return normalized


def plain_number(value: Decimal) -> str:
    """100.000000 -> "100", 0.650000 -> "0.65": the stored number as a person writes it."""
    return f"{plain_decimal(value):f}"
