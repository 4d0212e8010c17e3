"""OpenAPI building blocks of the partner API: the one error component, error responses, closed bodies.

Every operation declares its errors with `error_responses`, so the schema says which statuses it
really answers and that each one carries the `Error` shape. A request body that refuses unknown
fields is a `ClosedSerializer`: its schema says `additionalProperties: false`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers


@extend_schema_field(
    {
        "type": "object",
        # A sentence per field; nested fields (params.order_type) may come as an object of their own.
        "additionalProperties": {},
        "description": "Only on validation errors: each field (or query parameter, or header) at fault, "
        "with a sentence saying what is wrong with it.",
        "example": {"limit": "limit must be a whole number from 1 to 200."},
    }
)
class ErrorFieldsField(serializers.DictField):
    pass


@extend_schema_serializer(
    component_name="Error",
    examples=[
        OpenApiExample(
            "A bad query parameter",
            value={
                "error": "Some fields are invalid: limit.",
                "code": "validation_error",
                "fields": {"limit": "limit must be a whole number from 1 to 200."},
                "request_id": "5f0c3a9e8b7d4c21a0e6f1b2c3d4e5f6",
            },
        ),
        OpenApiExample(
            "A missing object",
            value={"error": "No order with this id.", "code": "not_found", "request_id": "req-2024-0001"},
        ),
    ],
)
class ErrorSerializer(serializers.Serializer):
    """Every error of the partner API, whatever its status."""

    error = serializers.CharField(help_text="A sentence saying what went wrong and what to do about it.")
    code = serializers.CharField(
        help_text="A machine-readable code, stable across releases: validation_error, bad_request, "
        "missing_parameter, unauthorized, not_found, exchange_not_found, customer_not_ready, "
        "idempotency_key_in_flight, idempotency_key_reused, not_supported, rate_limit_exceeded, "
        "service_unavailable, ..."
    )
    request_id = serializers.CharField(
        help_text="The id of the request this answered (the X-Request-Id header of the answer): quote it "
        "to support. A stored answer replayed under an Idempotency-Key keeps the first request's id."
    )


# `fields` cannot be a class attribute: it would hide Serializer.fields, which DRF builds from this dict.
ErrorSerializer._declared_fields["fields"] = ErrorFieldsField(required=False)

# What each status means on this API; an operation adds which codes it answers with.
STATUS_MEANINGS = {
    400: "The request is invalid: a field, query parameter or header is named in `fields` or the sentence.",
    401: "The X-API-Key header is missing, malformed, revoked or unknown (code unauthorized).",
    404: "No such object for this partner (another partner's object answers the same).",
    409: "The request conflicts with the object's current state.",
    422: "The Idempotency-Key was already used for a different request (code idempotency_key_reused).",
    429: "Too many requests of this kind; retry later.",
    501: "Parsec does not support this on the exchange (code not_supported).",
    503: "Parsec or a configuration it provides cannot be read right now; retry shortly "
    "(code service_unavailable).",
}


TEXT_RULE_400 = (
    "Also any path, query parameter or header that is not printable text of a sensible length "
    "(validation_error)."
)


RATE_LIMIT_429 = (
    "Also the partner's request budget spent (rate_limit_exceeded): Retry-After says in how many seconds "
    "a request passes again. Every answer carries X-RateLimit-Limit (the burst), X-RateLimit-Remaining "
    "(requests left now) and X-RateLimit-Reset (seconds until the budget is full again)."
)


def error_responses(details: dict[int, str] | None = None) -> dict[int, OpenApiResponse]:
    """The Error responses of one operation: 400, 401 and 429 always (every operation needs a key and
    spends the partner's budget), plus `details`.

    `details` maps each other status the operation answers to what causes it there (its codes).
    """
    # 400 on every operation too: the text rule (builder_platform.inputs) refuses a path, query parameter
    # or header with NUL, control characters or an overlong value before any view runs.
    # 429 on every operation too: each partner's request budget (ratelimits), whatever else answers 429.
    statuses = {400: TEXT_RULE_400, 401: "", 429: RATE_LIMIT_429, **(details or {})}
    if details and 400 in details:
        statuses[400] = f"{details[400]} {TEXT_RULE_400}"
    if details and 429 in details:
        statuses[429] = f"{details[429]} {RATE_LIMIT_429}"
    return {
        status: OpenApiResponse(
            ErrorSerializer,
            description=" ".join(part for part in (STATUS_MEANINGS[status], statuses[status]) if part),
        )
        for status in sorted(statuses)
    }


class ClosedSerializer(serializers.Serializer):
    """A request body that refuses fields it does not know; its schema says so."""


class ClosedSerializerExtension(OpenApiSerializerExtension):
    target_class = "builder_platform.openapi.ClosedSerializer"
    match_subclasses = True

    def map_serializer(self, auto_schema, direction) -> dict:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


# A Decimal written digit for digit as a JSON number (orders.serializers.ExactJSONRenderer): a client that
# parses it as a float still reads a number; one that wants the exact digits parses it as a decimal.
EXACT_NUMBER = {
    "type": "number",
    "description": "An exact decimal, written as a JSON number with its exact digits (never rounded "
    "through a float); parse it as a decimal to keep them.",
}
