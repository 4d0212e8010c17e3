"""Counts every HTTP answer and its time, by the route's URL pattern (never the raw path)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from builder_platform import metrics

# Methods outside this set are one label, so a client inventing methods cannot add series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: HttpRequest) -> str:
    """The URL pattern that answered ("api/v1/orders/<uuid:order_id>"), or what kind of path it was."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return match.route
    if request.path.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"  # a 404 before any view, or an answer given by a middleware


class RequestMetricsMiddleware:
    """First in MIDDLEWARE, so it sees the answer every other middleware shaped, and its whole time."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        if not settings.METRICS_ENABLED:
            raise MiddlewareNotUsed  # off: not even a timer per request
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.http_request_answered(
            route=route_of(request),
            method=request.method if request.method in KNOWN_METHODS else "OTHER",
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response
