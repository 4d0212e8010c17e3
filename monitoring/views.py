"""GET /metrics: every process's counters plus the database gauges, in Prometheus's text format."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from builder_platform import metrics
from builder_platform.api import error_body
from monitoring.collector import DatabaseCollector


def _refusal(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse(error_body(code=code, message=message), status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def _from_loopback(request: HttpRequest) -> bool:
    # A request through a proxy on this machine arrives from loopback too; the proxy adds this header.
    if "HTTP_X_FORWARDED_FOR" in request.META:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


def _access_refusal(request: HttpRequest) -> JsonResponse | None:
    token = settings.METRICS_TOKEN
    if not token:
        if settings.METRICS_LOOPBACK_WITHOUT_TOKEN and _from_loopback(request):
            return None
        return _refusal(
            403,
            "metrics_token_not_set",
            "Set METRICS_TOKEN and send it as 'Authorization: Bearer <token>' to read /metrics from here.",
        )
    scheme, _, sent = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), token.encode()):
        return _refusal(
            401,
            "not_authenticated",
            "Send the metrics token as 'Authorization: Bearer <token>'.",
            **{"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return None


@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_ENABLED:
        return _refusal(404, "not_found", "Metrics are switched off (METRICS_ENABLED).")
    refusal = _access_refusal(request)
    if refusal is not None:
        return refusal
    registry = metrics.registry()
    registry.register(DatabaseCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
