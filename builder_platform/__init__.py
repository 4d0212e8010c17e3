"""The builder platform's Django project: settings, URLs, the Celery app and WSGI/ASGI entry points."""

from builder_platform.celery import app as celery_app

__all__ = ["celery_app"]
