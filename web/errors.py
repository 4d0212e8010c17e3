"""The web frontend's error codes, its request-body rule, and one way to answer a refusal as JSON."""

from __future__ import annotations

import functools
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from builder_platform.api import error_body
from builder_platform.failures import DomainError
from parsec.client import decode_json

MAX_BODY_BYTES = 64 * 1024


class WebErrorCode(StrEnum):
    """Codes the web endpoints answer of their own (services' refusals keep their own codes)."""

    MALFORMED_REQUEST = "malformed_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"  # 415
    REQUEST_TOO_LARGE = "request_too_large"  # 413
    BAD_REQUEST = "bad_request"
    WRONG_CHAIN = "wrong_chain"
    NOT_SIGNED_IN = "not_signed_in"  # 401
    CUSTOMER_DISABLED = "customer_disabled"  # 403 at sign-in
    EXCHANGE_NOT_FOUND = "exchange_not_found"
    MARKETS_UNAVAILABLE = "markets_unavailable"  # 503
    NOT_FOUND = "not_found"  # 404
    METHOD_NOT_ALLOWED = "method_not_allowed"  # 405


class BadBody(DomainError):
    """The request body is not a JSON object (400), too large (413) or not sent as JSON (415)."""


def error_response(
    *, status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code=code, message=message, fields=fields), status=status)


def read_json(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object; raises BadBody, which `answers_refusals` turns into the answer."""
    if request.body and request.content_type != "application/json":
        # The partner API's rule too: a body is JSON, and says so.
        raise BadBody(
            "Send the body as JSON with Content-Type: application/json "
            f"(this request said {request.content_type or 'none'}).",
            status=415,
            code=WebErrorCode.UNSUPPORTED_MEDIA_TYPE,
        )
    if len(request.body) > MAX_BODY_BYTES:
        raise BadBody(
            f"The request body is {len(request.body):,} bytes; the limit is {MAX_BODY_BYTES:,} bytes.",
            status=413,
            code=WebErrorCode.REQUEST_TOO_LARGE,
        )
    try:
        # Decimal for numbers with a point: prices and sizes must never pass through float.
        body = decode_json(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise BadBody("The request body is not valid JSON.", code=WebErrorCode.MALFORMED_REQUEST) from None
    if not isinstance(body, dict):
        raise BadBody("The request body must be a JSON object.", code=WebErrorCode.MALFORMED_REQUEST)
    return body


def answers_refusals(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A refusal (any DomainError, a bad body included) a view lets through answers in the error shape."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as refusal:
            return error_response(
                status=refusal.status, code=refusal.code, message=refusal.message, fields=refusal.fields
            )

    return wrapper
