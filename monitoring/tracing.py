"""OpenTelemetry traces of Django requests, Celery tasks and httpx calls, only when an OTLP endpoint is set.

With OTEL_EXPORTER_OTLP_ENDPOINT unset nothing is imported and nothing is patched: no cost, no
dependency at run time. The exporter reads the standard OTEL_* variables itself (headers, service name).
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

_started = False


def tracing_wanted() -> bool:
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())


def tracing_start() -> bool:
    """Instrument Django, Celery and httpx once per process; True when tracing is on."""
    global _started
    if _started or not tracing_wanted():
        return _started
    # Imported here: a process without an endpoint never loads OpenTelemetry.
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "builder-platform")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()
    _started = True
    logger.info("tracing: spans exported to %s", os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"])
    return True
