"""gunicorn's server hooks (--config python:builder_platform.gunicorn_config)."""

import os

# The hooks run in gunicorn's master, which never loads the WSGI module that names the settings.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "builder_platform.settings")


def child_exit(server, worker) -> None:
    # A dead worker's live gauges must stop counting in /metrics; its counters stay (they happened).
    from builder_platform import metrics

    metrics.process_exited(worker.pid)
