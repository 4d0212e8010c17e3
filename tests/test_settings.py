"""Start-up refuses unsafe production settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _start(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "ALLOWED_HOSTS"))}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "builder_platform.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _start({"DJANGO_DEBUG": "0", "ALLOWED_HOSTS": "example.com"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_it_refuses_the_development_secret_key_when_debug_is_off():
    result = _start(
        {
            "DJANGO_DEBUG": "0",
            "ALLOWED_HOSTS": "example.com",
            "DJANGO_SECRET_KEY": "django-insecure-development-only-key-never-use-in-production",
        }
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_it_refuses_to_start_without_allowed_hosts_when_debug_is_off():
    result = _start({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_it_starts_with_a_real_secret_key_and_hosts():
    result = _start({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "example.com"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("started")
