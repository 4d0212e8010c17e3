"""The read caches' generation moves on the commit of every change a cached read depends on, and only then."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from factories import make_api_key, make_customer, make_partner

from customers.models import Partner, PartnerApiKey
from customers.services.partners import partner_api_key_touch
from generations.store import ReadCache, generation_current
from halts.models import TradingHalt
from ratelimits.models import PartnerRateLimit

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["configured", "database"])
def store(request, settings) -> str:
    if request.param == "database":
        settings.SHARED_STORE_URL = ""
    return request.param


def test_a_change_bumps_the_generation_when_it_commits_not_before(store):
    partner = make_partner()
    before = generation_current()
    with transaction.atomic():
        Partner.objects.filter(pk=partner.pk).update(status=Partner.Status.SUSPENDED)
        PartnerRateLimit.objects.create(partner=partner, rate_per_second=5, burst=10)
        assert generation_current() == before  # other processes would still read the committed rows
    assert generation_current() == before + 1  # several changes, one bump


def test_a_rolled_back_change_bumps_nothing(store):
    partner = make_partner()
    before = generation_current()
    with transaction.atomic():
        TradingHalt.objects.create(scope="global", reason="Rolled back.", set_at=timezone.now())
        transaction.set_rollback(True)
    assert generation_current() == before
    customer = make_customer(partner=partner)  # a save outside a transaction bumps at once
    assert generation_current() == before + 1
    customer.delete()
    assert generation_current() == before + 2


def test_touching_a_key_bumps_nothing_revoking_it_does(store):
    api_key, _ = make_api_key(partner=make_partner())
    before = generation_current()
    assert partner_api_key_touch(api_key=api_key, now=timezone.now() + timedelta(hours=1))
    assert generation_current() == before
    PartnerApiKey.objects.filter(pk=api_key.pk).update(revoked_at=timezone.now())
    assert generation_current() == before + 1


def test_a_cache_serves_its_value_until_the_generation_moves(store):
    cache = ReadCache()
    loads = []

    def load() -> str:
        loads.append(1)
        return f"value {len(loads)}"

    assert cache.get("key", load) == "value 1"
    assert cache.get("key", load) == "value 1"
    make_partner()  # a save: the generation moves
    assert cache.get("key", load) == "value 2"
    with transaction.atomic():
        assert cache.get("key", load) == "value 3"  # inside a transaction: read, never served or stored
    assert cache.get("key", load) == "value 2"
