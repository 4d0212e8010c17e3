"""WSGI entry point (gunicorn builder_platform.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
application = get_wsgi_application()

from builder_platform.folders import runtime_folders_create  # noqa: E402 - needs the settings loaded

runtime_folders_create()
