"""Parsec's fee escrow configuration: fetched, validated, stored, and kept fresh enough to charge fees."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from customers.models import BPS_MAX
from fees.errors import EscrowConfigInvalid, EscrowConfigUnavailable
from fees.models import BIGINT_MAX, EscrowConfig
from parsec import client as parsec_client
from parsec import conf as parsec_conf
from parsec.contract import (
    to_checksum,
)

logger = logging.getLogger(__name__)


# --- Escrow config -----------------------------------------------------------------------------------


def _optional_address(value: str | None, name: str) -> str:
    if value is None or value == "":
        return ""
    try:
        return to_checksum(value)
    except ValueError:
        raise EscrowConfigInvalid(f"Parsec's escrow config has a malformed {name}.") from None


def _escrow_config_values(fetched: parsec_client.EscrowConfig) -> dict:
    """The row's values for a config Parsec answered; EscrowConfigInvalid when it cannot be used."""
    for name in ("fee_bps", "min_fee_bps", "affiliate_fee_bps"):
        value = getattr(fetched, name)
        if not 0 <= value <= BPS_MAX:
            raise EscrowConfigInvalid(f"Parsec's escrow config has {name}={value}, outside 0..10000.")
    if not 0 <= fetched.min_fee_usdc <= BIGINT_MAX:
        raise EscrowConfigInvalid("Parsec's escrow config has a min_fee_usdc out of range.")
    if not 0 < fetched.chain_id <= BIGINT_MAX:
        raise EscrowConfigInvalid("Parsec's escrow config has an invalid chain id.")
    contract = _optional_address(fetched.escrow_contract_address, "escrow_contract_address")
    if not contract:
        raise EscrowConfigInvalid("Parsec's escrow config names no escrow contract address.")
    return {
        "escrow_contract_address": contract,
        "chain_id": fetched.chain_id,
        "fee_escrow_enabled": fetched.fee_escrow_enabled,
        "fee_bps": fetched.fee_bps,
        "min_fee_bps": fetched.min_fee_bps,
        "min_fee_usdc": fetched.min_fee_usdc,
        "affiliate_fee_bps": fetched.affiliate_fee_bps,
        "affiliate_address": _optional_address(fetched.affiliate_address, "affiliate_address"),
        "treasury_address": _optional_address(fetched.treasury_address, "treasury_address"),
    }


@transaction.atomic
def escrow_config_store(*, config: parsec_client.EscrowConfig, now: datetime) -> EscrowConfig:
    """Make a config Parsec answered the current one (the single row, replaced in place)."""
    values = _escrow_config_values(config)
    stored, _ = EscrowConfig.objects.update_or_create(
        pk=EscrowConfig.SINGLETON_ID,
        defaults={**values, "fetched_at": now, "last_refresh_error": "", "last_refresh_failed_at": None},
    )
    return stored


def _escrow_config_record_failure(*, reason: str, now: datetime) -> None:
    # One UPDATE (its own transaction in autocommit); no row yet means nothing to annotate.
    EscrowConfig.objects.filter(pk=EscrowConfig.SINGLETON_ID).update(
        last_refresh_error=reason[:500], last_refresh_failed_at=now
    )


def escrow_config_refresh(*, now: datetime) -> EscrowConfig:
    """Read `GET /builder/escrow/config` and store it. HTTP, so never call it inside a transaction.

    Raises ParsecError or EscrowConfigInvalid; the last good config then stays, with the failure noted.
    """
    try:
        fetched = parsec_conf.get_client().get_escrow_config()
        return escrow_config_store(config=fetched, now=now)
    except (parsec_client.ParsecError, EscrowConfigInvalid) as error:
        _escrow_config_record_failure(reason=str(error), now=now)
        raise


def escrow_config_is_fresh(config: EscrowConfig | None, *, now: datetime) -> bool:
    if config is None:
        return False
    return now - config.fetched_at <= timedelta(seconds=settings.ESCROW_CONFIG_MAX_AGE_SECONDS)


def _age_text(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} seconds"
    if seconds < 7200:
        return f"{int(seconds // 60)} minutes"
    return f"{int(seconds // 3600)} hours"


def _unavailable(config: EscrowConfig | None, *, now: datetime, reason: str) -> EscrowConfigUnavailable:
    if config is None:
        state = "Parsec's fee escrow configuration has never been read"
    else:
        age = _age_text((now - config.fetched_at).total_seconds())
        limit = _age_text(settings.ESCROW_CONFIG_MAX_AGE_SECONDS)
        state = f"Parsec's fee escrow configuration was last read {age} ago, more than the {limit} allowed"
    return EscrowConfigUnavailable(
        f"Orders that carry a builder fee are paused: {state}, and {reason}. Retry in a few minutes."
    )


def escrow_config_current(*, now: datetime, may_refresh: bool) -> EscrowConfig:
    """The escrow config, refreshed from Parsec once, synchronously, when it is missing or too old.

    The refresh is HTTP, so it never runs inside a transaction: a caller inside one says so with
    `may_refresh=False`, and a stale config is then refused as it is (call this with `may_refresh=True`
    before opening the transaction to get the refresh). Raises EscrowConfigUnavailable.
    """
    config = EscrowConfig.objects.filter(pk=EscrowConfig.SINGLETON_ID).first()
    if escrow_config_is_fresh(config, now=now):
        return config
    if not may_refresh:
        reason = "it cannot be refreshed in the middle of this request"
        if config is not None and config.last_refresh_error:
            reason = f"the last refresh failed ({config.last_refresh_error})"
        raise _unavailable(config, now=now, reason=reason)
    try:
        return escrow_config_refresh(now=now)
    except parsec_client.ParsecError as error:
        logger.warning("escrow config refresh failed: %s", error)
        raise _unavailable(
            config, now=now, reason=f"Parsec cannot be reached to refresh it ({error})"
        ) from None
    except EscrowConfigInvalid as error:
        raise _unavailable(
            config, now=now, reason=f"Parsec's answer was not usable ({error.message})"
        ) from None
