"""REST plumbing shared by every app: the one error shape, typed API errors, cursor pagination."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback


class ApiError(exceptions.APIException):
    """An expected failure with its HTTP status, a machine code and a sentence a partner can act on."""

    def __init__(
        self,
        *,
        status_code: int,
        code: str,
        message: str,
        fields: dict | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.fields = fields
        self.retry_after = retry_after  # seconds, sent as Retry-After


def error_body(*, code: str, message: str, fields: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message, "code": code}
    if fields:
        body["fields"] = fields
    return body


def _printable(text: Any) -> str:
    # DRF's sentences quote the input ('"\ud800" is not a valid choice.'); a lone surrogate in them
    # could not be encoded as UTF-8, so the answer itself would fail. It is written as its escape.
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


def _flatten(detail: Any) -> Any:
    """DRF's ErrorDetail lists become plain strings (one sentence per field) or nested dicts."""
    if isinstance(detail, dict):
        return {_printable(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return " ".join(_printable(item) for item in detail)
        return [_flatten(item) for item in detail]
    return _printable(detail)


# DRF exception class -> (our code, fallback sentence)
_CODES: list[tuple[type[exceptions.APIException], str, str]] = [
    (exceptions.ParseError, "malformed_request", "The request body is not valid JSON."),
    (
        exceptions.AuthenticationFailed,
        "unauthorized",
        "The API key is missing, malformed, revoked or unknown.",
    ),
    (exceptions.NotAuthenticated, "unauthorized", "Send your partner API key in the X-API-Key header."),
    (exceptions.PermissionDenied, "forbidden", "This key may not perform that action."),
    (exceptions.NotFound, "not_found", "No such object."),
    (exceptions.MethodNotAllowed, "method_not_allowed", "That method is not allowed on this path."),
    (exceptions.NotAcceptable, "not_acceptable", "This API answers in JSON only."),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", "Send the body as application/json."),
    (exceptions.Throttled, "rate_limit_exceeded", "Too many requests; slow down."),
]


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler, answering every error in the platform's one shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handler answers, in the same shape under /api/

    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    if getattr(exc, "retry_after", None):
        headers["Retry-After"] = str(exc.retry_after)

    if isinstance(exc, ApiError):
        body = error_body(code=exc.error_code, message=exc.message, fields=exc.fields)
    elif isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if not isinstance(fields, dict):
            fields = {"non_field_errors": fields}
        names = ", ".join(sorted(fields))
        body = error_body(
            code="validation_error", message=f"Some fields are invalid: {names}.", fields=fields
        )
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        # One rule for every body: JSON only, said with the type that was sent.
        sent = (context.get("request") and context["request"].content_type) or "none"
        body = error_body(
            code="unsupported_media_type",
            message=f"Send the body as JSON with Content-Type: application/json (this request said {sent}).",
        )
    else:
        code, sentence = "error", "The request could not be completed."
        for klass, known_code, known_sentence in _CODES:
            if isinstance(exc, klass):
                code, sentence = known_code, known_sentence
                break
        detail = exc.detail if isinstance(exc.detail, str) else None
        # DRF's default English details ("Not found.") are replaced by our sentences; custom ones kept.
        default_detail = str(getattr(type(exc), "default_detail", ""))
        message = sentence if detail is None or str(detail) == default_detail else str(detail)
        body = error_body(code=code, message=message)

    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


class CreatedCursorPagination(CursorPagination):
    """Stable pages over growing tables: newest first, a fixed number of queries per page."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
