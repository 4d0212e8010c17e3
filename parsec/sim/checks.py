"""System checks: the embedded simulator must never be served by accident."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning


def _simulator_on_warning() -> CheckWarning:
    return CheckWarning(
        "The embedded Parsec simulator is on and served at /sim/api/v1/: anyone with its key can list "
        "and cancel customers' orders there. Production talks to the real Parsec.",
        hint="Set PARSEC_SIMULATOR=false with PARSEC_API_KEY and PARSEC_BASE_URL of the real Parsec.",
        id="sim.W001",
    )


@register(Tags.security)
def simulator_on_without_debug(app_configs, **kwargs) -> list[CheckWarning]:
    return [_simulator_on_warning()] if settings.PARSEC_SIMULATOR and not settings.DEBUG else []


@register(Tags.security, deploy=True)
def simulator_on_at_deploy(app_configs, **kwargs) -> list[CheckWarning]:
    # With debug off the check above already says it; `check --deploy` says it in debug too.
    return [_simulator_on_warning()] if settings.PARSEC_SIMULATOR and settings.DEBUG else []
