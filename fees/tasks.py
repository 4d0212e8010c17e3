"""Fee tasks: keep Parsec's escrow config fresh (beat, every ESCROW_CONFIG_REFRESH_SECONDS)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from fees import services
from parsec.client import ParsecError


@shared_task(name="fees.refresh_escrow_config")
def escrow_config_refresh_task() -> bool:
    """True when the config was refreshed; on failure the last good config stays and beat tries again."""
    try:
        services.escrow_config_refresh(now=timezone.now())
    except (ParsecError, services.EscrowConfigInvalid) as error:
        # No retry here: beat comes back within minutes, and the failure is noted on the config row.
        logging.getLogger(__name__).warning(
            "escrow config not refreshed, keeping the last good one: %s", error
        )
        return False
    return True
