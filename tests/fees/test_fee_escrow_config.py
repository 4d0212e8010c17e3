"""The escrow config: fetched from Parsec, kept when Parsec is down, and refusing fee orders when too old."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from fees_support import NOW, make_fee_customer, parsec_down, parsec_escrow_config, store_escrow_config

from fees import services, tasks
from fees.models import EscrowConfig

STALE = NOW + timedelta(hours=2)  # beyond the default maximum age of an hour


def test_a_refresh_stores_parsecs_config_as_the_one_current_row(db, fake_parsec):
    fake_parsec.answers = [parsec_escrow_config(fee_bps=30, min_fee_usdc=5_000)]
    config = services.escrow_config_refresh(now=NOW)
    assert EscrowConfig.objects.get() == config
    assert (config.fee_bps, config.min_fee_usdc, config.chain_id, config.fetched_at) == (30, 5_000, 137, NOW)
    fake_parsec.answers = [parsec_escrow_config(fee_bps=35)]
    services.escrow_config_refresh(now=NOW + timedelta(minutes=5))
    assert list(EscrowConfig.objects.values_list("fee_bps", flat=True)) == [35]


def test_the_config_is_read_from_the_simulator_over_http(parsec_sim, settings):
    settings.PARSEC_SIM_FEE_BPS = 30
    settings.PARSEC_SIM_MIN_FEE_USDC = 20_000
    config = services.escrow_config_refresh(now=NOW)
    assert (config.fee_bps, config.min_fee_usdc, config.affiliate_fee_bps) == (30, 20_000, 5000)
    assert config.escrow_contract_address == settings.PARSEC_SIM_ESCROW_CONTRACT_ADDRESS
    assert config.fee_escrow_enabled is True


def test_when_parsec_is_down_the_last_good_config_stays_and_the_failure_is_noted(db, fake_parsec):
    store_escrow_config(fee_bps=25)
    fake_parsec.answers = [parsec_down()]
    assert tasks.escrow_config_refresh_task.run() is False
    config = EscrowConfig.objects.get()
    assert (config.fee_bps, config.fetched_at) == (25, NOW)
    assert "maintenance" in config.last_refresh_error
    assert config.last_refresh_failed_at is not None


def test_an_unusable_answer_never_replaces_the_last_good_config(db, fake_parsec):
    store_escrow_config()
    fake_parsec.answers = [parsec_escrow_config(escrow_contract_address="not an address")]
    with pytest.raises(services.EscrowConfigInvalid):
        services.escrow_config_refresh(now=NOW)
    assert (
        EscrowConfig.objects.get().escrow_contract_address == parsec_escrow_config().escrow_contract_address
    )


def test_a_fresh_config_is_used_without_asking_parsec(db, fake_parsec):
    store_escrow_config()
    assert services.escrow_config_current(now=NOW + timedelta(minutes=59), may_refresh=True).fee_bps == 25
    assert fake_parsec.calls == 0


def test_a_stale_config_is_refreshed_once_synchronously(db, fake_parsec):
    store_escrow_config(fee_bps=25)
    fake_parsec.answers = [parsec_escrow_config(fee_bps=40)]
    config = services.escrow_config_current(now=STALE, may_refresh=True)
    assert (config.fee_bps, config.fetched_at, fake_parsec.calls) == (40, STALE, 1)


def test_a_missing_config_with_parsec_down_blocks_fee_orders_with_a_503_that_says_why(db, fake_parsec):
    fake_parsec.answers = [parsec_down()]
    with pytest.raises(services.EscrowConfigUnavailable) as caught:
        services.escrow_config_current(now=NOW, may_refresh=True)
    error = caught.value
    assert (error.status, error.code) == (503, "service_unavailable")
    assert "never been read" in error.message
    assert "maintenance" in error.message


def test_a_stale_config_with_parsec_down_blocks_fee_orders_and_names_its_age(db, fake_parsec):
    store_escrow_config()
    fake_parsec.answers = [parsec_down()]
    with pytest.raises(services.EscrowConfigUnavailable) as caught:
        services.escrow_config_current(now=STALE, may_refresh=True)
    assert "last read 2 hours ago, more than the 60 minutes allowed" in caught.value.message
    assert fake_parsec.calls == 1


def test_the_maximum_age_is_a_setting(db, fake_parsec, settings):
    store_escrow_config()
    settings.ESCROW_CONFIG_MAX_AGE_SECONDS = 60
    fake_parsec.answers = [parsec_down()]
    with pytest.raises(services.EscrowConfigUnavailable):
        services.escrow_config_current(now=NOW + timedelta(seconds=61), may_refresh=True)


def test_inside_a_transaction_a_stale_config_is_refused_without_any_http(db, fake_parsec):
    store_escrow_config()
    with pytest.raises(services.EscrowConfigUnavailable), transaction.atomic():
        services.escrow_config_current(now=STALE, may_refresh=False)
    assert fake_parsec.calls == 0


def test_a_stale_config_blocks_a_fee_bearing_order(db, fake_parsec):
    store_escrow_config()
    who = make_fee_customer()
    fake_parsec.answers = [parsec_down()]
    with pytest.raises(services.EscrowConfigUnavailable):
        services.fee_authorization_request(
            may_refresh_config=True,
            partner=who.partner,
            customer=who.customer,
            exchange="polymarket",
            price=Decimal("0.5"),
            size=Decimal("10"),
            now=STALE,
        )


@pytest.mark.parametrize(("exchange", "fee_bps"), [("polymarket", 0), ("kalshi", 25)])
def test_orders_without_a_fee_are_never_blocked_by_a_stale_or_missing_config(
    db, fake_parsec, exchange, fee_bps
):
    who = make_fee_customer(fee_bps=fee_bps)
    fake_parsec.answers = [parsec_down()]
    result = services.fee_authorization_request(
        may_refresh_config=True,
        partner=who.partner,
        customer=who.customer,
        exchange=exchange,
        price=Decimal("0.5"),
        size=Decimal("10"),
        now=STALE,
    )
    assert result is None
    assert fake_parsec.calls == 0


def test_the_refresh_runs_on_the_beat_schedule_in_the_default_queue():
    from builder_platform.celery import app

    entry = django_settings.CELERY_BEAT_SCHEDULE["fees.refresh_escrow_config"]
    assert entry["task"] == "fees.refresh_escrow_config"
    assert entry["schedule"] == django_settings.ESCROW_CONFIG_REFRESH_SECONDS
    assert "fees.refresh_escrow_config" in app.tasks
    assert app.amqp.router.route({}, "fees.refresh_escrow_config")["queue"].name == "default"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FEE_AUTH_DEADLINE_SECONDS", "86401"),
        ("FEE_AUTH_DEADLINE_SECONDS", "0"),
        ("BUILDER_TIER_MAX_FEE_BPS", "10001"),
    ],
)
def test_the_platform_refuses_to_start_with_an_out_of_range_fee_setting(variable, value, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "builder_platform.settings",
            "VAR_DIR": str(tmp_path),
            variable: value,
        },
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr
