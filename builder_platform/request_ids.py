"""Every request gets an id (the client's sane X-Request-Id, or a new one) in its log lines and answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

from builder_platform.logs import log_context_clear, log_context_start, request_id_accept, request_id_new

REQUEST_ID_HEADER = "X-Request-Id"


class RequestIdMiddleware:
    """First in MIDDLEWARE: the id is bound before any other middleware can answer or log, and every
    answer (JsonErrorsMiddleware's and Django's error pages included) goes back with the header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_accept(request.headers.get(REQUEST_ID_HEADER)) or request_id_new()
        request.request_id = request_id
        # A fresh context: nothing bound during the request before (a partner) carries over to this one.
        log_context_start(request_id=request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _request_context_clear(**kwargs: Any) -> None:
    # Cleared when the answer is done, not when the middleware returns: Django logs a 4xx/5xx answer
    # (django.request) after the middleware chain, and that line should carry the id too.
    log_context_clear()


request_finished.connect(_request_context_clear, dispatch_uid="builder_platform.request_ids")
