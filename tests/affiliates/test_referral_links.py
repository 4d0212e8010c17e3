"""Referral links on the web: /r/<code> and ?ref=, the signed cookie, attribution at the first sign-in."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core import signing
from django.test import Client
from eth_account import Account
from eth_account.messages import encode_defunct
from factories import make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Wallet
from referrals import services as referral_services
from referrals.models import Referral, ReferralClickDay
from web.referral_links import COOKIE_NAME, COOKIE_SALT

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(db):
    from django.utils import timezone

    partner = make_partner(name="Acme Referrals", revenue_share_bps=2000)
    referral_services.referral_code_create(partner=partner, code="acme", now=timezone.now())
    return partner


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


def sign_in(client: Client, account) -> dict:
    if settings.CSRF_COOKIE_NAME not in client.cookies:
        client.get("/")
    headers = {"HTTP_X_CSRFTOKEN": client.cookies[settings.CSRF_COOKIE_NAME].value}
    issued = client.post(
        "/app/session/challenge",
        {"address": account.address, "chain_id": settings.SIWE_CHAIN_ID},
        content_type="application/json",
        **headers,
    ).json()
    signature = Account.sign_message(encode_defunct(text=issued["message"]), account.key).signature
    response = client.post(
        "/app/session/verify",
        {
            "address": account.address,
            "message": issued["message"],
            "signature": "0x" + bytes(signature).hex(),
        },
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 200, response.content
    return response.json()


def customer_of(account) -> Customer:
    return Customer.objects.get(external_id=f"wallet:{account.address}")


def clicks(outcome: str) -> int:
    return sum(ReferralClickDay.objects.filter(outcome=outcome).values_list("clicks", flat=True))


def test_a_referral_link_remembers_the_code_redirects_to_our_own_path_and_the_sign_in_says_who_invited(
    acme, client, customer_tasks
):
    response = client.get("/r/ACME?next=/markets")
    assert (response.status_code, response["Location"]) == (302, "/markets")
    assert client.cookies[COOKIE_NAME]["httponly"]
    assert clicks("remembered") == 1
    assert "Invited by Acme Referrals" in client.get("/").content.decode()

    account = make_eth_account("link visitor")
    assert sign_in(client, account)["created"] is True
    referral = Referral.objects.get(customer=customer_of(account))
    assert (referral.partner_id, referral.code.code, referral.revenue_share_bps) == (acme.pk, "acme", 2000)
    assert customer_of(account).partner.is_builtin  # attribution is not ownership
    assert "Acme Referrals" in client.get("/").content.decode()  # the account page says it too


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "markets"])
def test_a_referral_link_never_redirects_off_site(acme, client, target):
    response = client.get("/r/acme", {"next": target})
    assert response["Location"] == "/"


def test_an_unknown_code_is_counted_and_changes_nothing(acme, client, customer_tasks):
    response = client.get("/r/nobody-knows?next=/markets")
    assert response.status_code == 302
    assert COOKIE_NAME not in client.cookies
    assert clicks("unknown") == 1
    account = make_eth_account("unknown code visitor")
    sign_in(client, account)
    assert not Referral.objects.exists()


def test_query_parameter_ref_works_on_any_page_and_shows_the_invitation_at_once(acme, client):
    page = client.get("/?ref=acme")
    assert "Invited by Acme Referrals" in page.content.decode()
    assert COOKIE_NAME in client.cookies


def test_first_touch_wins_for_the_cookie_and_for_the_customer(acme, client, customer_tasks):
    from django.utils import timezone

    rival = make_partner(name="Rival Partner", revenue_share_bps=100)
    referral_services.referral_code_create(partner=rival, code="rival", now=timezone.now())
    client.get("/r/acme")
    client.get("/r/rival")
    account = make_eth_account("first touch visitor")
    sign_in(client, account)
    assert Referral.objects.get(customer=customer_of(account)).partner_id == acme.pk

    other_browser = Client(enforce_csrf_checks=True)
    other_browser.get("/r/rival")
    assert sign_in(other_browser, account)["created"] is False
    assert Referral.objects.get(customer=customer_of(account)).partner_id == acme.pk


def test_an_expired_cookie_attributes_nothing(acme, client, customer_tasks, monkeypatch):
    days = settings.REFERRAL_ATTRIBUTION_DAYS
    signed_long_ago = time.time() - (days * 86_400 + 60)
    monkeypatch.setattr(signing.time, "time", lambda: signed_long_ago)
    value = signing.get_cookie_signer(salt=COOKIE_NAME + COOKIE_SALT).sign("acme")
    monkeypatch.undo()
    client.cookies[COOKIE_NAME] = value
    assert "Invited by" not in client.get("/").content.decode()
    account = make_eth_account("expired cookie visitor")
    sign_in(client, account)
    assert not Referral.objects.exists()


def test_a_tampered_cookie_attributes_nothing(acme, client, customer_tasks):
    client.cookies[COOKIE_NAME] = "acme:forged:signature"
    account = make_eth_account("forged cookie visitor")
    sign_in(client, account)
    assert not Referral.objects.exists()


def test_a_self_referral_through_the_web_is_kept_flagged(acme, client, customer_tasks):
    account = make_eth_account("partner's own wallet")
    make_wallet(customer=make_customer(partner=acme), address=account.address, role=Wallet.Role.SIGNER)
    client.get("/r/acme")
    sign_in(client, account)
    referral = Referral.objects.get(customer=customer_of(account))
    assert referral.is_flagged


def test_an_inactive_code_is_counted_apart_and_remembers_nothing(acme, client):
    code = referral_services.referral_code_usable("acme")
    referral_services.referral_code_update(referral_code=code, active=False)
    page = client.get("/markets?ref=acme")
    assert "Invited by" not in page.content.decode()
    assert COOKIE_NAME not in client.cookies
    assert (clicks("inactive"), clicks("remembered")) == (1, 0)
