"""Linking a wallet: an EIP-4361 challenge signed with the wallet's key, each failure with its own code."""

from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account.messages import encode_defunct
from factories import make_customer, make_eth_account, make_wallet

from customers import services
from customers.models import Customer, Wallet, WalletChallenge
from customers.siwe import siwe_message_parse

pytestmark = pytest.mark.django_db

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ACCOUNT = make_eth_account("linking")
STRANGER = make_eth_account("stranger")


@pytest.fixture
def customer(partner):
    return make_customer(partner=partner)


def _sign(message: str, account=ACCOUNT) -> str:
    return account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()


def _challenge(client, customer, address=ACCOUNT.address) -> dict:
    response = client.post(
        f"/api/v1/customers/{customer.id}/wallet-challenges", {"address": address}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def _link(client, customer, *, message: str, signature: str, address: str = ACCOUNT.address):
    return client.post(
        f"/api/v1/customers/{customer.id}/wallets",
        {"address": address, "message": message, "signature": signature},
        format="json",
    )


def test_a_challenge_is_a_sign_in_with_ethereum_message_for_this_platform(partner_client, customer, settings):
    before = timezone.now().replace(microsecond=0)
    issued = _challenge(partner_client, customer, address=ACCOUNT.address.lower())
    parsed = siwe_message_parse(issued["message"])
    assert parsed.domain == settings.SIWE_DOMAIN
    assert parsed.uri == settings.SIWE_URI
    assert parsed.chain_id == settings.SIWE_CHAIN_ID
    assert parsed.address == ACCOUNT.address  # checksummed, whatever case was sent
    assert parsed.nonce == issued["nonce"]
    assert len(issued["nonce"]) >= 8
    assert issued["nonce"].isalnum()
    assert parsed.issued_at >= before
    assert parsed.expiration_time - parsed.issued_at == timedelta(
        seconds=settings.WALLET_CHALLENGE_TTL_SECONDS
    )
    assert issued["expires_at"].replace("Z", "+00:00") == parsed.expiration_time.isoformat()


def test_every_challenge_has_its_own_nonce(partner_client, customer):
    nonces = {_challenge(partner_client, customer)["nonce"] for _ in range(5)}
    assert len(nonces) == 5


def test_a_signed_challenge_links_the_signer_and_queues_onboarding(
    partner_client, customer, customer_tasks, django_capture_on_commit_callbacks
):
    issued = _challenge(partner_client, customer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _link(
            partner_client, customer, message=issued["message"], signature=_sign(issued["message"])
        )
    assert response.status_code == 201, response.json()
    assert response.json()["address"] == ACCOUNT.address
    assert response.json()["role"] == "signer"
    wallet = Wallet.objects.get(customer=customer, role=Wallet.Role.SIGNER, replaced_at__isnull=True)
    assert wallet.address == ACCOUNT.address
    assert WalletChallenge.objects.get(nonce=issued["nonce"]).used_at is not None
    assert customer_tasks == [("customers.onboard", str(customer.id))]
    detail = partner_client.get(f"/api/v1/customers/{customer.id}").json()
    assert detail["signer_address"] == ACCOUNT.address


def test_a_replayed_challenge_is_refused(partner_client, customer, customer_tasks):
    issued = _challenge(partner_client, customer)
    signature = _sign(issued["message"])
    assert _link(partner_client, customer, message=issued["message"], signature=signature).status_code == 201
    replay = _link(partner_client, customer, message=issued["message"], signature=signature)
    assert replay.status_code == 409
    assert replay.json() == {
        "error": "This challenge was already used; request a new one.",
        "code": "challenge_used",
        "request_id": replay["X-Request-Id"],
    }


def test_an_expired_challenge_is_refused(partner_client, customer):
    issued_at = timezone.now() - timedelta(minutes=6)
    challenge = services.wallet_challenge_create(customer=customer, address=ACCOUNT.address, now=issued_at)
    response = _link(partner_client, customer, message=challenge.message, signature=_sign(challenge.message))
    assert response.status_code == 400
    assert response.json()["code"] == "challenge_expired"
    assert not customer.wallets.exists()


def test_a_challenge_is_good_until_its_last_second_by_the_clock_passed_in(customer):
    start = timezone.now()
    challenge = services.wallet_challenge_create(customer=customer, address=ACCOUNT.address, now=start)
    signature = _sign(challenge.message)
    with pytest.raises(services.WalletProofError) as caught:
        services.wallet_challenge_verify(
            customer=customer,
            address=ACCOUNT.address,
            message=challenge.message,
            signature=signature,
            now=challenge.expires_at,
        )
    assert caught.value.code == "challenge_expired"
    verified = services.wallet_challenge_verify(
        customer=customer,
        address=ACCOUNT.address,
        message=challenge.message,
        signature=signature,
        now=challenge.expires_at - timedelta(seconds=1),
    )
    assert verified.used_at == challenge.expires_at - timedelta(seconds=1)


def test_a_signature_by_another_key_is_refused(partner_client, customer):
    issued = _challenge(partner_client, customer)
    response = _link(
        partner_client, customer, message=issued["message"], signature=_sign(issued["message"], STRANGER)
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": "The signature was not made by this address's key.",
        "code": "signer_mismatch",
        "request_id": response["X-Request-Id"],
    }
    assert WalletChallenge.objects.get(nonce=issued["nonce"]).used_at is None


def _high_s_twin(signature: str) -> str:
    digits = signature[2:]
    s, v = int(digits[64:128], 16), int(digits[128:], 16)
    return "0x" + digits[:64] + format(SECP256K1_N - s, "064x") + format(55 - v, "02x")


@pytest.mark.parametrize(
    ("mangle", "code"),
    [
        (lambda signature: "0x" + "zz" + signature[4:], "signature_malformed"),
        (lambda signature: signature[2:], "signature_malformed"),
        (lambda signature: signature[:-2], "signature_wrong_length"),
        (lambda signature: signature + "00", "signature_wrong_length"),
        (_high_s_twin, "signature_not_canonical"),
    ],
)
def test_a_malformed_or_malleable_signature_is_refused_with_its_code(partner_client, customer, mangle, code):
    issued = _challenge(partner_client, customer)
    response = _link(
        partner_client, customer, message=issued["message"], signature=mangle(_sign(issued["message"]))
    )
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not customer.wallets.exists()


def test_a_tampered_message_is_refused_even_when_signed_by_the_right_key(partner_client, customer):
    issued = _challenge(partner_client, customer)
    tampered = issued["message"].replace("Link this wallet", "Link that wallet")
    response = _link(partner_client, customer, message=tampered, signature=_sign(tampered))
    assert response.status_code == 400
    assert response.json()["code"] == "message_mismatch"


def test_a_message_for_another_domain_is_refused(partner_client, customer, settings):
    issued = _challenge(partner_client, customer)
    moved = issued["message"].replace(settings.SIWE_DOMAIN, "evil.example", 1)
    response = _link(partner_client, customer, message=moved, signature=_sign(moved))
    assert response.status_code == 400
    assert response.json()["code"] == "message_mismatch"
    assert "evil.example" in response.json()["error"]


def test_an_unknown_nonce_is_refused(partner_client, customer):
    issued = _challenge(partner_client, customer)
    forged = issued["message"].replace(issued["nonce"], "0" * 32)
    response = _link(partner_client, customer, message=forged, signature=_sign(forged))
    assert response.status_code == 400
    assert response.json()["code"] == "challenge_not_found"


def test_a_body_address_other_than_the_messages_is_refused(partner_client, customer):
    issued = _challenge(partner_client, customer)
    response = _link(
        partner_client,
        customer,
        message=issued["message"],
        signature=_sign(issued["message"]),
        address=STRANGER.address,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "address_mismatch"


def test_text_that_is_no_sign_in_message_is_refused(partner_client, customer):
    response = _link(partner_client, customer, message="please link me", signature=_sign("please link me"))
    assert response.status_code == 400
    assert response.json()["code"] == "message_malformed"


@pytest.mark.parametrize("address", ["0x123", "not an address", ACCOUNT.address[:-1] + "G"])
def test_a_challenge_for_something_that_is_not_an_address_is_a_validation_error(
    partner_client, customer, address
):
    response = partner_client.post(
        f"/api/v1/customers/{customer.id}/wallet-challenges", {"address": address}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "address" in response.json()["fields"]


def test_a_mixed_case_address_with_a_wrong_checksum_is_refused(partner_client, customer):
    address = ACCOUNT.address
    wrong = address[:2] + "".join(c.swapcase() if c.isalpha() else c for c in address[2:])
    response = partner_client.post(
        f"/api/v1/customers/{customer.id}/wallet-challenges", {"address": wrong}, format="json"
    )
    assert response.status_code == 400
    assert "checksum" in response.json()["fields"]["address"]


def test_a_disabled_customer_gets_no_challenge(partner_client, partner):
    customer = make_customer(partner=partner, status=Customer.Status.DISABLED)
    response = partner_client.post(
        f"/api/v1/customers/{customer.id}/wallet-challenges", {"address": ACCOUNT.address}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "customer_disabled"


def test_linking_the_current_signer_again_answers_200_and_keeps_one_wallet(
    partner_client, customer, customer_tasks
):
    for expected in (201, 200):
        issued = _challenge(partner_client, customer)
        response = _link(
            partner_client, customer, message=issued["message"], signature=_sign(issued["message"])
        )
        assert response.status_code == expected
    assert customer.wallets.count() == 1


def test_proving_the_signer_again_clears_a_refusal_and_queues_onboarding_again(
    partner, partner_client, customer_tasks, django_capture_on_commit_callbacks
):
    customer = make_customer(partner=partner, parsec_customer_id="p-1", provisioning_error="refused")
    make_wallet(customer=customer, address=ACCOUNT.address)
    issued = _challenge(partner_client, customer)
    with django_capture_on_commit_callbacks(execute=True):
        response = _link(
            partner_client, customer, message=issued["message"], signature=_sign(issued["message"])
        )
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.provisioning_error == ""
    assert customer_tasks == [("customers.onboard", str(customer.id))]


def test_a_second_different_signer_is_refused_and_its_challenge_stays_unused(partner_client, customer):
    make_wallet(customer=customer, address=STRANGER.address)
    issued = _challenge(partner_client, customer)
    response = _link(partner_client, customer, message=issued["message"], signature=_sign(issued["message"]))
    assert response.status_code == 409
    assert response.json()["code"] == "signer_already_linked"
    assert STRANGER.address in response.json()["error"]
    assert [wallet.address for wallet in customer.wallets.all()] == [STRANGER.address]
    assert WalletChallenge.objects.get(nonce=issued["nonce"]).used_at is None


def test_the_same_service_verifies_a_web_sign_in_challenge_without_customer(customer):
    now = timezone.now()
    challenge = services.wallet_challenge_create(address=ACCOUNT.address, now=now)
    assert challenge.customer is None
    assert "Sign in with this wallet" in challenge.message
    verified = services.wallet_challenge_verify(
        address=ACCOUNT.address, message=challenge.message, signature=_sign(challenge.message), now=now
    )
    assert verified.pk == challenge.pk
    assert verified.used_at == now


def test_a_web_sign_in_challenge_cannot_link_a_customer_wallet(customer):
    now = timezone.now()
    challenge = services.wallet_challenge_create(address=ACCOUNT.address, now=now)
    with pytest.raises(services.WalletProofError) as caught:
        services.wallet_signer_link(
            customer=customer,
            address=ACCOUNT.address,
            message=challenge.message,
            signature=_sign(challenge.message),
            now=now,
        )
    assert caught.value.code == "challenge_not_found"
