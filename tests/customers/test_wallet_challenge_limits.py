"""Wallet challenges: a cap on those one address holds open, and a purge of those nobody needs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from factories import make_customer, make_eth_account, make_partner

from customers import services, tasks
from customers.models import WalletChallenge

pytestmark = pytest.mark.django_db


def ask(partner_client, customer, address: str):
    return partner_client.post(
        f"/api/v1/customers/{customer.pk}/wallet-challenges", {"address": address}, format="json"
    )


def test_the_partner_api_caps_open_challenges_per_address_and_customer(partner, partner_client, settings):
    settings.WALLET_CHALLENGE_MAX_OPEN = 3
    customer = make_customer(partner=partner)
    address = make_eth_account("capped").address
    assert [ask(partner_client, customer, address).status_code for _ in range(3)] == [201, 201, 201]

    refused = ask(partner_client, customer, address)

    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_challenges"
    assert WalletChallenge.objects.filter(address=address).count() == 3  # the refusal made nothing
    # Another address, or the same one for another customer, has its own allowance.
    assert ask(partner_client, customer, make_eth_account("other").address).status_code == 201
    assert ask(partner_client, make_customer(partner=partner), address).status_code == 201


def test_expired_challenges_do_not_count_against_the_cap(settings):
    settings.WALLET_CHALLENGE_MAX_OPEN = 1
    customer = make_customer()
    address = make_eth_account("expiring").address
    earlier = timezone.now() - timedelta(seconds=settings.WALLET_CHALLENGE_TTL_SECONDS + 1)
    services.wallet_challenge_create(customer=customer, address=address, now=earlier)

    assert services.wallet_challenge_create(customer=customer, address=address, now=timezone.now())


def test_the_purge_keeps_what_is_still_needed_and_the_proofs_of_linked_wallets():
    now = timezone.now()
    long_ago = now - timedelta(days=django_settings.WALLET_CHALLENGE_RETENTION_DAYS + 1)
    customer = make_customer(partner=make_partner())
    address = make_eth_account("purge").address

    def issued(at, *, linking: bool, used: bool) -> WalletChallenge:
        made = services.wallet_challenge_create(
            customer=customer if linking else None, address=address, now=at
        )
        if used:
            WalletChallenge.objects.filter(pk=made.pk).update(used_at=at + timedelta(seconds=1))
        return made

    open_now = issued(now, linking=False, used=False)
    expired_unused = issued(now - timedelta(hours=2), linking=True, used=False)
    old_sign_in = issued(long_ago, linking=False, used=True)
    old_link = issued(long_ago, linking=True, used=True)
    recent_sign_in = issued(now - timedelta(days=1), linking=False, used=True)

    assert services.wallet_challenges_purge(now=now) == 2

    kept = set(WalletChallenge.objects.values_list("pk", flat=True))
    assert kept == {open_now.pk, old_link.pk, recent_sign_in.pk}
    assert not kept & {expired_unused.pk, old_sign_in.pk}


def test_beat_runs_the_purge_hourly():
    entry = django_settings.CELERY_BEAT_SCHEDULE["customers.purge_wallet_challenges"]
    assert entry == {"task": "customers.purge_wallet_challenges", "schedule": 3600.0}
    assert tasks.wallet_challenges_purge_task.name in tasks.wallet_challenges_purge_task.app.tasks
