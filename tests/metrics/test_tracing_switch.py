"""Traces only with OTEL_EXPORTER_OTLP_ENDPOINT: without it no instrumentation is loaded, no tracer is set.

(The redis client imports OpenTelemetry's API by itself when the package is installed, so "imported at
all" is not the test: our instrumentation and a configured tracer provider are.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPORT = """
import json, sys
import django
django.setup()
from django.conf import settings
from opentelemetry import trace
print(json.dumps({
    "imported": sorted(name for name in sys.modules if name.startswith("opentelemetry.instrumentation")),
    "middleware": [name for name in settings.MIDDLEWARE if "opentelemetry" in name],
    "tracer_provider": type(trace.get_tracer_provider()).__name__,
}))
"""


def run(**environment: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(environment, DJANGO_SETTINGS_MODULE="builder_platform.settings")
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", REPORT],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_an_endpoint_nothing_is_instrumented():
    report = run()
    assert report == {"imported": [], "middleware": [], "tracer_provider": "ProxyTracerProvider"}


def test_with_an_endpoint_django_celery_and_httpx_are_instrumented():
    # Nothing listens there: spans are batched and dropped, which is all this test needs.
    report = run(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert report["middleware"], report
    assert report["tracer_provider"] == "TracerProvider"
    for part in ("django", "celery", "httpx"):
        assert f"opentelemetry.instrumentation.{part}" in report["imported"]
