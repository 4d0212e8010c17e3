"""The sign-in JSON endpoints with Django's test client: CSRF, single-use challenges, session rotation."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client
from eth_account import Account
from eth_account.messages import encode_defunct
from factories import make_eth_account

from customers.models import Customer, Partner, Wallet
from web.session import SESSION_CUSTOMER_KEY

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    return Client(enforce_csrf_checks=True)


def csrf_headers(client: Client) -> dict[str, str]:
    if settings.CSRF_COOKIE_NAME not in client.cookies:
        client.get("/")  # the sign-in page sets the CSRF cookie
    return {"HTTP_X_CSRFTOKEN": client.cookies[settings.CSRF_COOKIE_NAME].value}


def challenge(client: Client, address: str, **extra) -> dict:
    body = {"address": address, "chain_id": 137, **extra}
    response = client.post(
        "/app/session/challenge", body, content_type="application/json", **csrf_headers(client)
    )
    assert response.status_code == 201, response.content
    return response.json()


def sign(account, message: str) -> str:
    return "0x" + bytes(Account.sign_message(encode_defunct(text=message), account.key).signature).hex()


def verify(client: Client, account, message: str, signature: str | None = None):
    body = {"address": account.address, "message": message, "signature": signature or sign(account, message)}
    return client.post("/app/session/verify", body, content_type="application/json", **csrf_headers(client))


def test_the_challenge_is_an_eip4361_message_for_this_site_and_address(client):
    account = make_eth_account("challenge")
    message = challenge(client, account.address.lower())["message"]

    assert message.startswith(f"{settings.SIWE_DOMAIN} wants you to sign in with your Ethereum account:\n")
    assert f"\n{account.address}\n" in message  # checksummed, whatever case was sent
    assert "\nChain ID: 137\n" in message


def test_a_challenge_for_another_chain_is_refused_with_the_expected_chain(client):
    response = client.post(
        "/app/session/challenge",
        {"address": make_eth_account("chain").address, "chain_id": 1},
        content_type="application/json",
        **csrf_headers(client),
    )
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_chain"
    assert "137" in response.json()["error"]


def test_a_malformed_address_gets_a_field_error(client):
    response = client.post(
        "/app/session/challenge",
        {"address": "0x1234", "chain_id": 137},
        content_type="application/json",
        **csrf_headers(client),
    )
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"address"}


def test_first_sign_in_creates_a_builtin_partner_customer_with_the_wallet_as_signer(
    client, customer_tasks, django_capture_on_commit_callbacks
):
    account = make_eth_account("first")
    message = challenge(client, account.address)["message"]

    with django_capture_on_commit_callbacks(execute=True):
        response = verify(client, account, message)

    assert response.status_code == 200, response.content
    assert response.json()["created"] is True
    customer = Customer.objects.get()
    assert customer.partner == Partner.objects.get(is_builtin=True)
    assert customer.external_id == f"wallet:{account.address}"
    signer = Wallet.objects.get(customer=customer)
    assert (signer.role, signer.address) == (Wallet.Role.SIGNER, account.address)
    assert client.session[SESSION_CUSTOMER_KEY] == str(customer.pk)
    assert customer_tasks == [("customers.provision", str(customer.pk))]


def test_signing_in_again_finds_the_same_customer(client, customer_tasks):
    account = make_eth_account("again")
    verify(client, account, challenge(client, account.address)["message"])
    other_browser = Client(enforce_csrf_checks=True)

    response = verify(other_browser, account, challenge(other_browser, account.address)["message"])

    assert response.json()["created"] is False
    assert Customer.objects.count() == 1
    assert other_browser.session[SESSION_CUSTOMER_KEY] == client.session[SESSION_CUSTOMER_KEY]


def test_sign_in_rotates_the_session_key(client, customer_tasks):
    planted = SessionStore()
    planted["planted"] = True
    planted.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = planted.session_key
    account = make_eth_account("rotate")

    verify(client, account, challenge(client, account.address)["message"])

    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != planted.session_key
    assert not SessionStore().exists(planted.session_key)


def test_a_challenge_signs_in_only_once(client, customer_tasks):
    account = make_eth_account("replay")
    message = challenge(client, account.address)["message"]
    assert verify(client, account, message).status_code == 200

    replay = verify(Client(enforce_csrf_checks=True), account, message)

    assert replay.status_code == 400
    assert replay.json()["code"] == "challenge_used"


def test_a_signature_by_another_key_does_not_sign_in(client):
    account = make_eth_account("victim")
    message = challenge(client, account.address)["message"]

    response = verify(client, account, message, signature=sign(make_eth_account("attacker"), message))

    assert response.status_code == 400
    assert response.json()["code"] == "signer_mismatch"
    assert SESSION_CUSTOMER_KEY not in client.session
    assert not Customer.objects.exists()


def test_a_disabled_customer_cannot_sign_in(client, customer_tasks):
    account = make_eth_account("disabled")
    verify(client, account, challenge(client, account.address)["message"])
    Customer.objects.update(status=Customer.Status.DISABLED)
    fresh = Client(enforce_csrf_checks=True)

    response = verify(fresh, account, challenge(fresh, account.address)["message"])

    assert response.status_code == 403
    assert response.json()["code"] == "customer_disabled"
    assert SESSION_CUSTOMER_KEY not in fresh.session


def test_posting_without_the_csrf_token_is_refused(client):
    response = client.post(
        "/app/session/challenge",
        {"address": make_eth_account("csrf").address, "chain_id": 137},
        content_type="application/json",
    )
    assert response.status_code == 403


def test_the_account_endpoint_requires_a_signed_in_session(client):
    response = client.get("/app/account")

    assert response.status_code == 401
    assert response.json() == {
        "error": "Sign in with your wallet first.",
        "code": "not_signed_in",
        "request_id": response["X-Request-Id"],
    }


def test_the_account_endpoint_reports_provisioning_progress(client, customer_tasks):
    account = make_eth_account("progress")
    verify(client, account, challenge(client, account.address)["message"])

    body = client.get("/app/account").json()

    assert body["status"] == "provisioning"
    assert body["address"] == account.address
    assert [(step["key"], step["state"]) for step in body["steps"]] == [
        ("wallet", "done"),
        ("parsec_account", "waiting"),
        ("payer", "waiting"),
    ]
    assert body["finished"] is False


def test_sign_out_ends_the_session(client, customer_tasks):
    account = make_eth_account("out")
    verify(client, account, challenge(client, account.address)["message"])

    response = client.post("/sign-out", **csrf_headers(client))

    assert response.status_code == 302
    assert client.get("/app/account").status_code == 401


def test_pages_send_visitors_who_are_not_signed_in_to_sign_in(client):
    response = client.get("/orders")

    assert response.status_code == 302
    assert response["Location"] == "/?next=%2Forders"


def test_an_address_with_too_many_open_challenges_is_told_to_sign_one_first(client, settings):
    settings.WALLET_CHALLENGE_MAX_OPEN = 2
    account = make_eth_account("many-challenges")
    first = challenge(client, account.address)
    challenge(client, account.address)

    refused = client.post(
        "/app/session/challenge",
        {"address": account.address, "chain_id": 137},
        content_type="application/json",
        **csrf_headers(client),
    )
    assert refused.status_code == 429
    assert refused.json()["code"] == "too_many_challenges"

    assert verify(client, account, first["message"]).status_code == 200  # signing one frees a place
    challenge(client, account.address)
