"""Framework-level answers (unknown paths, oversized bodies, CSRF, foreign hosts, crashes) in the error shape.

Under /api/ and /app/ every answer is JSON in the one error shape, debug on or off: Django's own pages
(its debug 404 lists every route, its 400/403/500 pages are HTML) are for people with a browser, not
for a partner's client or the web pages' scripts. Everywhere else Django's HTML pages stay.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure

from builder_platform.api import error_body
from builder_platform.inputs import request_text_problem

# Answers under these prefixes are JSON, whatever went wrong. The simulator's unknown paths answer
# JSON too (its clients are HTTP clients), but only the handlers cover it: its own errors carry
# Parsec's shape, which the middleware must not rewrite.
JSON_PREFIXES = ("/api/", "/app/", "/metrics")
HANDLER_JSON_PREFIXES = (*JSON_PREFIXES, "/sim/")

# Status -> (code, sentence) for answers Django produced without a sentence of ours.
_GENERIC = {
    400: ("bad_request", "The request is malformed."),
    403: ("forbidden", "This request is not allowed."),
    404: ("not_found", "No such path."),
    405: ("method_not_allowed", "That method is not allowed on this path."),
    413: ("request_too_large", "The request body is too large."),
    500: ("internal_error", "Something went wrong on our side; it has been logged. Retry later."),
}
# Headers of the original answer a client still needs in the JSON one.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


def wants_json(path: str, prefixes: tuple[str, ...] = JSON_PREFIXES) -> bool:
    return path.startswith(prefixes)


def _json(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code=code, message=message), status=status_code)


def not_found_sentence(path: str) -> str:
    """Name the path the caller probably meant: our paths never end in a slash."""
    if path.endswith("/") and path.rstrip("/"):
        try:
            resolve(path.rstrip("/"))
        except Resolver404:
            pass
        else:
            return f"No such path: {path}. Paths here have no trailing slash: use {path.rstrip('/')}."
    if path.startswith("/api/"):
        return f"No such path: {path}. Every partner API path is listed in /api/schema/ and /api/docs/."
    return f"No such path: {path}."


def too_large_sentence(length: int | None) -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    sent = f"The request body is {length:,} bytes" if length else "The request body is too large"
    return f"{sent}; the limit is {limit:,} bytes. Send a smaller body."


def host_sentence() -> str:
    return "This server does not answer to the host name in the Host header; use one of its own names."


def error_for_status(request: HttpRequest, status_code: int) -> JsonResponse:
    if status_code == 404:
        return _json(404, "not_found", not_found_sentence(request.path))
    code, sentence = _GENERIC.get(status_code) or (
        ("internal_error", _GENERIC[500][1]) if status_code >= 500 else ("bad_request", _GENERIC[400][1])
    )
    return _json(status_code, code, sentence)


def _content_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None


class JsonErrorsMiddleware:
    """Under /api/ and /app/: refuse a foreign Host, an oversized body and unprintable or overlong text in
    the path, query or headers (builder_platform.inputs) up front, in JSON, and turn
    any non-JSON error page a framework produced (Django's debug 404, a 405 from require_POST, ...)
    into the error shape. Installed first, so it also sees what other middleware answered."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not wants_json(request.path):
            return self.get_response(request)
        try:
            request.get_host()
        except DisallowedHost:
            # Django would log this at ERROR with a traceback; a wrong Host is the caller's mistake.
            logging.getLogger("django.security.DisallowedHost").warning(
                "Invalid Host header for %s", request.path
            )
            return _json(400, "disallowed_host", host_sentence())
        length = _content_length(request)
        if length is not None and length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            # Refused before anything reads the body; Django itself would answer 400 only once a view
            # read it, and DRF's parsers read the stream without looking at the limit at all.
            return _json(413, "request_too_large", too_large_sentence(length))
        text = request_text_problem(request)
        if text is not None:
            # One rule for the path, every query parameter and the headers we read, before any view.
            field, sentence = text
            return JsonResponse(
                error_body(code="validation_error", message=sentence, fields={field: sentence}), status=400
            )
        response = self.get_response(request)
        if response.status_code < 400 or "json" in response.get("Content-Type", ""):
            return response
        replacement = error_for_status(request, response.status_code)
        for name in _KEPT_HEADERS:
            if name in response:
                replacement[name] = response[name]
        return replacement

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RequestDataTooBig) and wants_json(request.path):
            return _json(413, "request_too_large", too_large_sentence(_content_length(request)))
        return None


# --- Django's error handlers (used when debug is off) ------------------------------------------------


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request.path, HANDLER_JSON_PREFIXES):
        if isinstance(exception, DisallowedHost):
            return _json(400, "disallowed_host", host_sentence())
        if isinstance(exception, RequestDataTooBig):
            return _json(413, "request_too_large", too_large_sentence(_content_length(request)))
        return error_for_status(request, 400)
    return defaults.bad_request(request, exception)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request.path, HANDLER_JSON_PREFIXES):
        return error_for_status(request, 403)
    return defaults.permission_denied(request, exception)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_json(request.path, HANDLER_JSON_PREFIXES):
        return error_for_status(request, 404)
    return defaults.page_not_found(request, exception)


def handler500(request: HttpRequest) -> HttpResponse:
    if wants_json(request.path, HANDLER_JSON_PREFIXES):
        return error_for_status(request, 500)
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the web pages' scripts get a sentence they can show; forms get Django's page."""
    if wants_json(request.path):
        return _json(
            403,
            "csrf_failed",
            "The request failed its cross-site request forgery check"
            + (f" ({reason.rstrip('.')})" if reason else "")
            + ". Reload the page and try again.",
        )
    return django_csrf_failure(request, reason=reason)
