"""Start-up refuses unsafe production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


GOOD_SECRET_KEY = "k3y-" + "abcdefghij" * 5  # 54 characters, 14 different
PRODUCTION = {"DJANGO_DEBUG": "0", "ALLOWED_HOSTS": "example.com", "DJANGO_SECRET_KEY": GOOD_SECRET_KEY}
REAL_PARSEC = {"PARSEC_API_KEY": "pk_live_example", "PARSEC_BASE_URL": "https://api.parsecapi.com/api/v1"}


def _start(env_overrides: dict[str, str], code: str = "print('started')") -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "ALLOWED_HOSTS", "PARSEC_", "SECURE_"))
    }
    env.update(env_overrides)
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "builder_platform.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _start({"DJANGO_DEBUG": "0", "ALLOWED_HOSTS": "example.com", **REAL_PARSEC})
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
    result = _start({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": GOOD_SECRET_KEY})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_it_starts_with_a_real_secret_key_hosts_and_parsec_key():
    result = _start({**PRODUCTION, **REAL_PARSEC})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("started")


@pytest.mark.parametrize("secret_key", ["s3cr!", "ab" * 40, "x" * 49])
def test_it_refuses_a_short_or_repetitive_secret_key_when_debug_is_off(secret_key):
    result = _start({**PRODUCTION, **REAL_PARSEC, "DJANGO_SECRET_KEY": secret_key})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is too weak" in result.stderr


# --- The simulator in production ----------------------------------------------------------------------


def test_with_debug_off_and_no_parsec_key_it_refuses_to_start_naming_the_key_to_set():
    result = _start(PRODUCTION)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PARSEC_API_KEY must be set" in result.stderr


def test_with_debug_off_the_simulator_with_its_documented_key_is_refused():
    result = _start({**PRODUCTION, "PARSEC_SIMULATOR": "true"})
    assert result.returncode != 0
    assert "PARSEC_SIMULATOR_API_KEY must be set" in result.stderr


def test_with_debug_off_a_real_parsec_key_leaves_the_simulator_unrouted():
    code = (
        "from django.conf import settings; from django.urls import resolve, Resolver404\n"
        "try:\n    resolve('/sim/api/v1/exchanges'); print('routed')\n"
        "except Resolver404:\n    print('unrouted', settings.PARSEC_SIMULATOR)"
    )
    result = _start({**PRODUCTION, **REAL_PARSEC}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "unrouted False"


def test_with_debug_off_the_simulator_runs_when_asked_for_with_a_key_of_its_own_and_a_check_warns():
    code = (
        "from django.core import checks; from django.conf import settings\n"
        "print(settings.PARSEC_SIMULATOR, settings.PARSEC_API_KEY == settings.PARSEC_SIMULATOR_API_KEY)\n"
        "print(sorted({m.id for m in checks.run_checks(include_deployment_checks=True)}))"
    )
    result = _start(
        {**PRODUCTION, "PARSEC_SIMULATOR": "true", "PARSEC_SIMULATOR_API_KEY": "pk_sim_" + "q7" * 20},
        code=code,
    )
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()[-2:]
    assert first == "True True"
    assert "sim.W001" in second


def test_in_debug_the_simulator_stays_the_default_venue_without_a_check_warning():
    code = (
        "from django.core import checks; from django.conf import settings\n"
        "print(settings.PARSEC_SIMULATOR, sorted({m.id for m in checks.run_checks()}))"
    )
    result = _start({"DJANGO_DEBUG": "1"}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("True ")
    assert "sim.W001" not in result.stdout


# --- HTTPS in production ---------------------------------------------------------------------------------


def test_with_debug_off_https_redirect_and_hsts_are_on_by_default_and_deploy_checks_are_quiet():
    code = (
        "from django.core import checks; from django.conf import settings\n"
        "print(settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SECURE_PROXY_SSL_HEADER)\n"
        "print(sorted({m.id for m in checks.run_checks(include_deployment_checks=True)}))"
    )
    result = _start({**PRODUCTION, **REAL_PARSEC}, code=code)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()[-2:]
    assert first == "True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https')"
    assert "security.W004" not in second
    assert "security.W008" not in second


def test_https_settings_come_from_the_environment():
    code = (
        "from django.conf import settings\n"
        "print(settings.SECURE_SSL_REDIRECT, settings.SECURE_HSTS_SECONDS, "
        "settings.SECURE_HSTS_INCLUDE_SUBDOMAINS, settings.SECURE_PROXY_SSL_HEADER)"
    )
    result = _start(
        {
            **PRODUCTION,
            **REAL_PARSEC,
            "SECURE_SSL_REDIRECT": "false",
            "SECURE_HSTS_SECONDS": "600",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
            "SECURE_PROXY_SSL_HEADER": "X-Scheme: https",
        },
        code=code,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False 600 True ('HTTP_X_SCHEME', 'https')"


def test_the_health_probes_are_not_redirected_to_https():
    code = (
        "from django.test import Client\n"
        "c = Client()\n"
        "print(c.get('/healthz', HTTP_HOST='example.com').status_code, "
        "c.get('/api/v1/orders', HTTP_HOST='example.com').status_code)"
    )
    result = _start({**PRODUCTION, **REAL_PARSEC}, code=code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "200 301"


# --- Start-up errors name the variable -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "error-503=lots",
        "error-503",
        "rate-limit=1.5",
        "error503=0.1",  # no such fault: it would never be drawn
        "error-503=0.6,rate-limit=0.6",  # more than every request
        "error-503=nan",
    ],
)
def test_a_bad_fault_rate_names_the_variable(value):
    result = _start({"PARSEC_SIM_FAULT_RATES": value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "PARSEC_SIM_FAULT_RATES must be" in result.stderr
    assert "ValueError" not in result.stderr


def test_reading_the_settings_creates_no_folders(tmp_path):
    var_dir = tmp_path / "not-yet"
    result = _start({"VAR_DIR": str(var_dir), "CELERY_BROKER_URL": "filesystem://"})
    assert result.returncode == 0, result.stderr
    assert not var_dir.exists()
