"""Benchmark-only WSGI entry point: the product's settings, with a URL conf that adds a bare view."""

import os

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
django.setup(set_prefix=False)
# Swapped before the first request is resolved; the product's own URL conf never carries this route.
settings.ROOT_URLCONF = "benchmarks.customer_read_site.urls"

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after the URL conf is chosen

application = get_wsgi_application()
