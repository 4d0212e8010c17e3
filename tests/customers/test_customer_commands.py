"""create_partner prints a working key on its last line; seed_demo is idempotent and shows secrets once."""

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from customers.api_keys import KEY_PATTERN
from customers.models import Partner, PartnerApiKey

pytestmark = pytest.mark.django_db


def _run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def _works(raw_key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    return client.get("/api/v1/customers").status_code == 200


def test_create_partner_prints_a_working_key_alone_on_its_last_line():
    lines = _run(
        "create_partner",
        "Acme",
        "--fee-bps",
        "30",
        "--affiliate-address",
        "0x39bc708add3a470e59192d3c2d108e57178c80a9",
        "--revenue-share-bps",
        "2500",
    )
    raw_key = lines[-1]
    assert KEY_PATTERN.fullmatch(raw_key)
    assert sum(raw_key in line for line in lines) == 1
    assert _works(raw_key)
    partner = Partner.objects.get(name="Acme")
    assert (partner.fee_bps, partner.revenue_share_bps) == (30, 2500)
    assert partner.affiliate_address == "0x39Bc708AdD3A470e59192d3c2d108e57178C80a9"


def test_create_partner_reuses_a_partner_of_that_name_and_mints_another_key():
    first = _run("create_partner", "Acme")[-1]
    second = _run("create_partner", "Acme")[-1]
    assert first != second
    assert Partner.objects.filter(name="Acme").count() == 1
    assert PartnerApiKey.objects.filter(partner__name="Acme").count() == 2
    assert _works(first)
    assert _works(second)


def test_create_partner_refuses_to_change_terms_of_an_existing_partner():
    _run("create_partner", "Acme", "--fee-bps", "30")
    with pytest.raises(CommandError, match="already exists"):
        _run("create_partner", "Acme", "--fee-bps", "40")
    assert Partner.objects.get(name="Acme").fee_bps == 30


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--fee-bps", "10001", "fee_bps"),
        ("--revenue-share-bps", "10001", "revenue_share_bps"),
        ("--affiliate-address", "0x12", "affiliate_address"),
    ],
)
def test_create_partner_refuses_values_out_of_range_and_creates_nothing(option, value, field):
    with pytest.raises(CommandError, match=field):
        _run("create_partner", "Acme", option, value)
    assert not Partner.objects.exists()


def test_seed_demo_creates_its_data_once_and_prints_each_secret_once():
    first = "\n".join(_run("seed_demo"))
    second = "\n".join(_run("seed_demo"))

    assert Partner.objects.filter(is_builtin=True).count() == 1
    assert Partner.objects.filter(name="Demo partner").count() == 1
    assert PartnerApiKey.objects.filter(partner__name="Demo partner").count() == 1
    assert get_user_model().objects.filter(username="admin", is_superuser=True).count() == 1

    raw_key = next(word for word in first.split() if word.startswith("bp_"))
    assert _works(raw_key)
    password = first.splitlines()[-1].strip()
    assert authenticate(username="admin", password=password) is not None

    assert "bp_" not in second
    assert password not in second
    assert 'create_partner "Demo partner"' in second
    assert "manage.py changepassword admin" in second
