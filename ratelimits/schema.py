"""The partner budget's headers in the OpenAPI schema, declared once for every operation."""

from __future__ import annotations

_INTEGER = {"type": "integer", "minimum": 0}
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests the partner may send at once (its burst).",
    "X-RateLimit-Remaining": "Requests left in the partner's budget now.",
    "X-RateLimit-Reset": "Seconds until the budget is full again.",
}
RETRY_AFTER = "Seconds until a request passes again."


def rate_limit_headers_in_schema(result: dict, generator, request, public) -> dict:
    """drf-spectacular hook: every answer to an authenticated request says the budget left, and a 429
    says when to retry. A 401 carries none: no partner, so no budget, was known."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if status == "401" or not isinstance(response, dict):
                    continue
                headers = response.setdefault("headers", {})
                for name, description in RATE_LIMIT_HEADERS.items():
                    headers.setdefault(name, {"description": description, "schema": dict(_INTEGER)})
                if status == "429":
                    retry_after = {"description": RETRY_AFTER, "required": True, "schema": dict(_INTEGER)}
                    headers.setdefault("Retry-After", retry_after)
    return result
