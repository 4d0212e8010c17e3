"""The partner fee policy: refused outside the escrow minimum and the tier cap, never clamped."""

from __future__ import annotations

import pytest
from factories import make_partner
from fees_support import parsec_down, store_escrow_config

from audit.services import Actor
from fees import services


@pytest.mark.parametrize("fee_bps", [None, 0, 1, 25, 50])
def test_fees_within_the_policy_are_accepted(escrow_config, fee_bps):
    services.partner_fee_validate(fee_bps=fee_bps, config=escrow_config)


def test_a_fee_above_the_tier_maximum_is_refused(escrow_config):
    with pytest.raises(services.FeeError) as caught:
        services.partner_fee_validate(fee_bps=51, config=escrow_config)
    assert caught.value.code == "fee_above_tier_maximum"
    assert "maximum of 50 bps" in caught.value.message


def test_the_tier_maximum_is_a_setting(escrow_config, settings):
    settings.BUILDER_TIER_MAX_FEE_BPS = 150  # Platinum
    services.partner_fee_validate(fee_bps=150, config=escrow_config)
    with pytest.raises(services.FeeError):
        services.partner_fee_validate(fee_bps=151, config=escrow_config)


def test_a_fee_below_the_escrow_minimum_is_refused(db):
    config = store_escrow_config(min_fee_bps=10)
    with pytest.raises(services.FeeError) as caught:
        services.partner_fee_validate(fee_bps=9, config=config)
    assert (caught.value.code, caught.value.status) == ("fee_below_minimum", 400)
    assert "escrow minimum of 10 bps" in caught.value.message


def test_without_any_config_the_fallback_minimum_applies(settings):
    settings.FEE_MIN_BPS_FALLBACK = 5
    services.partner_fee_validate(fee_bps=5, config=None)
    with pytest.raises(services.FeeError) as caught:
        services.partner_fee_validate(fee_bps=4, config=None)
    assert caught.value.code == "fee_below_minimum"


@pytest.mark.parametrize("fee_bps", [-1, 10_001, True, "25"])
def test_a_fee_that_is_not_a_basis_point_count_is_refused(escrow_config, fee_bps):
    with pytest.raises(services.FeeError) as caught:
        services.partner_fee_validate(fee_bps=fee_bps, config=escrow_config)
    assert caught.value.code in {"fee_bps_invalid", "fee_above_tier_maximum"}


def test_setting_a_partner_fee_checks_it_against_the_current_config(db, fake_parsec):
    from fees_support import NOW, parsec_escrow_config

    partner = make_partner(fee_bps=None)
    fake_parsec.answers = [parsec_escrow_config(min_fee_bps=20)]
    with pytest.raises(services.FeeError):
        services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=15, now=NOW)
    partner.refresh_from_db()
    assert partner.fee_bps is None  # refused, not clamped to 20
    services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=20, now=NOW)
    partner.refresh_from_db()
    assert partner.fee_bps == 20


def test_attribution_only_and_the_default_are_set_without_asking_parsec(db, fake_parsec):
    partner = make_partner(fee_bps=30)
    fake_parsec.answers = [parsec_down()]
    services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=0)
    services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=None)
    partner.refresh_from_db()
    assert partner.fee_bps is None
    assert fake_parsec.calls == 0


def test_a_fee_cannot_be_set_while_the_minimum_cannot_be_known(db, fake_parsec):
    partner = make_partner(fee_bps=None)
    fake_parsec.answers = [parsec_down()]
    with pytest.raises(services.EscrowConfigUnavailable):
        services.partner_fee_set(actor=Actor.system("test"), partner=partner, fee_bps=25)
    partner.refresh_from_db()
    assert partner.fee_bps is None


def test_the_partner_admin_refuses_a_fee_above_the_tier_cap(escrow_config, admin_client):
    from customers.models import Partner

    response = admin_client.post(
        "/admin/customers/partner/add/",
        {"name": "Greedy", "status": "active", "fee_bps": "60", "revenue_share_bps": "0"},
    )

    assert response.status_code == 200  # the form is shown again, with the error
    assert "above the builder tier" in response.content.decode()
    assert not Partner.objects.filter(name="Greedy").exists()


def test_create_partner_refuses_a_fee_above_the_tier_cap(escrow_config):
    from django.core.management import CommandError, call_command

    from customers.models import Partner

    with pytest.raises(CommandError, match="above the builder tier"):
        call_command("create_partner", "Greedy", "--fee-bps", "60")
    assert not Partner.objects.filter(name="Greedy").exists()
