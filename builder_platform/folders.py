"""The runtime folders under VAR_DIR, created when a process starts rather than when settings are read.

Reading settings must not write to disk (a read-only image, `manage.py check` in CI, a typo in VAR_DIR):
the entry points that need the folders (manage.py, WSGI/ASGI, Celery's worker and beat) call this.
"""

from __future__ import annotations

from pathlib import Path


def runtime_folders_create() -> None:
    from django.conf import settings

    folders: list[Path] = [Path(settings.VAR_DIR), Path(settings.STATIC_ROOT), Path(settings.METRICS_DIR)]
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folders += [Path(settings.BROKER_FILESYSTEM_DIR) / name for name in ("queue", "processed", "control")]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
