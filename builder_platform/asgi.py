"""ASGI entry point, for servers that speak ASGI."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")
application = get_asgi_application()

from builder_platform.folders import runtime_folders_create  # noqa: E402 - needs the settings loaded

runtime_folders_create()
