"""REST plumbing shared by every app: the one error shape, typed API errors, cursor pagination."""

from __future__ import annotations

import logging
from base64 import b64decode
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.response import Response
from rest_framework.views import set_rollback

from builder_platform.failures import DomainError
from builder_platform.logs import log_context


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
    """The one error shape. `request_id` (the X-Request-Id of the answer) lets support find the
    request's log lines; a stored answer replayed under an Idempotency-Key keeps the first request's."""
    body: dict[str, Any] = {"error": message, "code": code}
    if fields:
        body["fields"] = fields
    request_id = log_context().get("request_id")
    if request_id:
        body["request_id"] = request_id
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


def api_error_from(refusal: DomainError | ApiError) -> ApiError:
    """A service's refusal as the API error it answers with (an ApiError is returned as it is)."""
    if isinstance(refusal, ApiError):
        return refusal
    return ApiError(
        status_code=refusal.status,
        code=refusal.code,
        message=refusal.message,
        fields=refusal.fields,
        retry_after=refusal.retry_after,
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's exception handler, answering every error in the platform's one shape."""
    if isinstance(exc, DomainError):
        exc = api_error_from(exc)
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
    response = Response(body, status=exc.status_code, headers=headers)
    if isinstance(exc, ApiError) and exc.status_code >= 500:
        _deliberate_refusal_log(context.get("request"), response, code=exc.error_code)
    return response


def _deliberate_refusal_log(request: Any, response: Response, *, code: str) -> None:
    """A 5xx we chose to answer (a trading halt, Parsec unavailable) is logged once, at WARNING.

    Django logs every 5xx at ERROR, which pages whoever watches errors; these answers are the platform
    doing what an operator or an outage asked of it, and the metrics count them. A bug never gets here:
    an unexpected exception is not an ApiError and keeps Django's ERROR with its traceback.
    """
    path = getattr(request, "path", "")
    logging.getLogger("django.request").warning(
        "%s (%s): %s", response.reason_phrase, code, path, extra={"status_code": response.status_code}
    )
    response._has_been_logged = True  # Django's own flag: its log_response then stays silent


def cursor_of(url: str | None) -> str | None:
    """The `cursor` query parameter of a page link: what a client sends back as ?cursor=."""
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("cursor")
    return values[0] if values else None


def page_body(*, results: list, next_url: str | None, previous_url: str | None) -> dict[str, Any]:
    """The one shape of every list: results, the next and previous page links, and the next cursor."""
    return {
        "results": results,
        "next": next_url,
        "previous": previous_url,
        "next_cursor": cursor_of(next_url),
    }


def query_parameter_error(name: str, sentence: str) -> exceptions.ValidationError:
    """A 400 validation_error naming the query parameter at fault, as a bad filter value answers."""
    return exceptions.ValidationError({name: sentence})


def query_parameters_check(query_params, *, allowed) -> None:
    """A 400 naming each query parameter the endpoint does not take, or sent empty: a misspelt filter
    (statuss=open) or an empty one must not silently answer everything."""
    unknown = sorted(set(query_params) - set(allowed))
    if unknown:
        takes = ", ".join(sorted(allowed)) or "none"
        raise exceptions.ValidationError(
            {name: f"This endpoint takes no query parameter {name}; it takes {takes}." for name in unknown}
        )
    problems = {}
    for name, values in query_params.lists():
        if any(value == "" for value in values):
            # status= would filter nothing while looking like a filter: say so instead.
            problems[name] = f"{name} is empty; give it a value or leave it out."
        elif any("\x00" in value for value in values):
            # No database (ours or Parsec's) stores a NUL; refused here, not failed there.
            problems[name] = f"{name} must not contain NUL characters."
    if problems:
        raise exceptions.ValidationError(dict(sorted(problems.items())))


def page_size_parse(raw: str | None, *, default: int, maximum: int) -> int:
    """`limit` as sent: absent means the default; anything but a whole number 1..maximum is a 400."""
    if raw is None:
        return default
    # The length guard keeps int() away from huge digit strings.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not 1 <= int(raw) <= maximum:
        raise query_parameter_error("limit", f"limit must be a whole number from 1 to {maximum}.")
    return int(raw)


PAGE_PARAMETERS = ("cursor", "limit")


class CreatedCursorPagination(CursorPagination):
    """Stable pages over growing tables: newest first, a fixed number of queries per page.

    Bad `limit` and `cursor` values answer 400 naming the parameter (DRF would silently use the
    default page size, and answer 404 for a cursor it cannot read).
    """

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        return page_size_parse(
            request.query_params.get(self.page_size_query_param),
            default=self.page_size,
            maximum=self.max_page_size,
        )

    def decode_cursor(self, request) -> Cursor | None:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        # Stricter than DRF's: strict base64, only the keys DRF writes, a position that is a real
        # aware created_at, handed to the database in UTC (PostgreSQL refuses offsets of 16 hours or
        # more, which Python accepts). Anything else is a 400, never a 404 or a database error.
        try:
            text = b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
            tokens = parse_qs(text, keep_blank_values=True, strict_parsing=True)
            if not set(tokens) <= {"o", "r", "p"} or any(len(values) != 1 for values in tokens.values()):
                raise ValueError(text)
            offset = tokens.get("o", ["0"])[0]
            reverse = tokens.get("r", ["0"])[0]
            if not (offset.isascii() and offset.isdigit() and len(offset) <= 6) or reverse not in ("0", "1"):
                raise ValueError(text)
            position = tokens.get("p", [None])[0]
            if position is not None:
                moment = parse_datetime(position)
                if moment is None or moment.tzinfo is None:
                    raise ValueError(position)
                position = str(moment.astimezone(UTC))
        except (ValueError, OverflowError):
            raise query_parameter_error(
                self.cursor_query_param, "This cursor is not one we issued; use the next_cursor of a page."
            ) from None
        return Cursor(offset=min(int(offset), self.offset_cutoff), reverse=reverse == "1", position=position)

    def get_paginated_response(self, data) -> Response:
        return Response(
            page_body(results=data, next_url=self.get_next_link(), previous_url=self.get_previous_link())
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return page_schema(schema)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: the next_cursor of the previous page. Omit it for "
                "the first (newest) page.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Items per page, 1 to {self.max_page_size} (default {self.page_size}).",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
            },
        ]


def page_schema(item_schema: dict, *, forward_only: bool = False) -> dict:
    """The OpenAPI schema of one page of `item_schema` items (the shape `page_body` answers)."""
    previous = "The previous page's link; null on the first page."
    if forward_only:
        previous = "Always null: this list's cursor only goes forward."
    return {
        "type": "object",
        "required": ["results", "next", "previous", "next_cursor"],
        "properties": {
            "results": item_schema
            if item_schema.get("type") == "array"
            else {"type": "array", "items": item_schema},
            "next": {
                "type": ["string", "null"],
                "format": "uri",
                "description": "The next page's link; null on the last page.",
            },
            "previous": {"type": ["string", "null"], "format": "uri", "description": previous},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "The value to send back as ?cursor= for the next page; null on the last page.",
            },
        },
    }


def filtered_page(
    *, request: Any, view: Any, filterset_class: Any, queryset: Any, serializer_class: Any
) -> Response:
    """One page of a list endpoint: only known parameters, filters checked (400 naming the bad one),
    then the view's cursor pagination, in the page shape."""
    query_parameters_check(request.query_params, allowed={*filterset_class.base_filters, *PAGE_PARAMETERS})
    filterset = filterset_class(request.query_params, queryset=queryset)
    if not filterset.is_valid():
        raise exceptions.ValidationError(filterset.errors)
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(filterset.qs, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)
