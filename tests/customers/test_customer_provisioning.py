"""Provisioning customers at Parsec, against the embedded simulator over real HTTP."""

import time
from collections.abc import Callable

import pytest
from django.utils import timezone
from eth_account.messages import encode_defunct
from factories import make_customer, make_eth_account, make_wallet
from rest_framework.test import APIClient

from customers import services, tasks
from customers.models import Customer, Wallet
from parsec.client import ParsecInDoubt, ParsecUnavailable

pytestmark = pytest.mark.django_db(transaction=True)

SIGNER = make_eth_account("provisioning-signer")


def _provision(customer: Customer) -> Customer:
    return services.customer_provision(customer_id=customer.pk, now=timezone.now())


def _onboard(customer: Customer) -> Customer:
    return services.wallet_onboard(customer_id=customer.pk, now=timezone.now())


def test_provisioning_creates_a_builder_user_under_our_customer_id_and_keeps_its_id(
    parsec_sim, customer_tasks
):
    customer = make_customer(external_id="user-1", email="ada@example.com")
    provisioned = _provision(customer)
    assert provisioned.parsec_customer_id
    assert provisioned.status == Customer.Status.PROVISIONING  # no wallet yet
    user = parsec_sim.get_builder_user(provisioned.parsec_customer_id)
    # Our UUID, not the partner's external id, which is unique only within that partner.
    assert user.external_id == str(customer.id)
    assert customer_tasks == []  # no signer yet: nothing to onboard


@pytest.mark.parametrize("fee_bps", [0, 40])
def test_the_partners_own_fee_is_set_on_the_builder_user(parsec_sim, customer_tasks, fee_bps):
    from factories import make_partner

    customer = make_customer(partner=make_partner(fee_bps=fee_bps))
    provisioned = _provision(customer)
    assert parsec_sim.get_builder_user(provisioned.parsec_customer_id).fee_bps == fee_bps


def test_a_partner_on_the_default_fee_leaves_parsecs_default(parsec_sim, customer_tasks):
    provisioned = _provision(make_customer())
    assert parsec_sim.get_builder_user(provisioned.parsec_customer_id).fee_bps is None


def test_sending_the_builder_user_again_answers_the_same_user(parsec_sim, customer_tasks):
    customer = _provision(make_customer())
    # What a retry after a lost answer does: Parsec answers the existing user, not a second one.
    again = parsec_sim.create_builder_user(external_id=str(customer.id))
    assert (again.created, again.customer_id) == (False, customer.parsec_customer_id)
    assert _provision(customer).parsec_customer_id == customer.parsec_customer_id


def test_provisioning_queues_onboarding_when_a_signer_is_already_linked(parsec_sim, customer_tasks):
    customer = make_customer()
    make_wallet(customer=customer, address=SIGNER.address)
    assert _onboard(customer).parsec_customer_id is None  # no builder user yet: nothing sent
    _provision(customer)
    assert customer_tasks == [("customers.onboard", str(customer.id))]


def test_onboarding_keeps_the_safe_as_payer_and_activates_the_customer(
    parsec_sim, partner, partner_client, customer_tasks
):
    customer = _provision(make_customer(partner=partner))
    make_wallet(customer=customer, address=SIGNER.address)
    onboarded = _onboard(customer)
    assert onboarded.status == Customer.Status.ACTIVE
    payer = Wallet.objects.get(customer=customer, role=Wallet.Role.PAYER, replaced_at__isnull=True)
    user = parsec_sim.get_builder_user(customer.parsec_customer_id)
    assert "polymarket" in user.linked_exchanges
    assert payer.address != SIGNER.address
    assert (
        parsec_sim.onboard(
            customer_id=customer.parsec_customer_id, exchange="polymarket", eoa_address=SIGNER.address
        ).safe_address
        == payer.address
    )

    detail = partner_client.get(f"/api/v1/customers/{customer.id}").json()
    assert detail["status"] == "active"
    assert detail["provisioning_step"] is None
    assert (detail["signer_address"], detail["payer_address"]) == (SIGNER.address, payer.address)


def test_a_refusal_is_kept_on_the_customer_which_stays_provisioning(
    parsec_sim, partner_client, partner, customer_tasks
):
    customer = _provision(make_customer(partner=partner))
    # Parsec already knows this user with another EOA, and refuses to onboard a second one.
    parsec_sim.onboard(
        customer_id=customer.parsec_customer_id,
        exchange="polymarket",
        eoa_address=make_eth_account("other").address,
    )
    make_wallet(customer=customer, address=SIGNER.address)
    refused = _onboard(customer)
    assert refused.status == Customer.Status.PROVISIONING
    assert refused.provisioning_error.startswith("Parsec refused onboarding (bad_request)")
    assert not customer.wallets.filter(role=Wallet.Role.PAYER).exists()
    detail = partner_client.get(f"/api/v1/customers/{customer.id}").json()
    assert (detail["status"], detail["provisioning_error"]) == ("provisioning", refused.provisioning_error)


def test_an_outage_is_left_to_the_tasks_retries_and_provisioning_succeeds_after_it(
    parsec_sim, settings, customer_tasks
):
    customer = make_customer()
    settings.PARSEC_SIM_FAULT_RATES = {"error-503": 1.0}
    with pytest.raises(ParsecUnavailable):
        _provision(customer)
    customer.refresh_from_db()
    assert (customer.parsec_customer_id, customer.provisioning_error) == (None, "")

    settings.PARSEC_SIM_FAULT_RATES = {}
    tasks.customer_provision_task.apply(args=[str(customer.id)])
    customer.refresh_from_db()
    assert customer.parsec_customer_id


def test_a_lost_answer_is_resent_and_finds_the_user_parsec_made(parsec_sim, settings, customer_tasks):
    customer = make_customer()
    settings.PARSEC_SIM_FAULT_RATES = {"apply-then-drop": 1.0}
    with pytest.raises(ParsecInDoubt):
        _provision(customer)
    settings.PARSEC_SIM_FAULT_RATES = {}
    provisioned = _provision(customer)
    assert parsec_sim.get_builder_user(provisioned.parsec_customer_id).external_id == str(customer.id)
    assert parsec_sim.create_builder_user(external_id=str(customer.id)).created is False


def _wait_for(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_a_partner_onboards_a_customer_end_to_end_through_the_worker(
    parsec_sim, celery_worker, partner, partner_api_key
):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=partner_api_key)
    created = client.post(
        "/api/v1/customers", {"external_id": "e2e", "email": "e2e@example.com"}, format="json"
    )
    assert created.status_code == 201
    customer_id = created.json()["id"]
    detail_url = f"/api/v1/customers/{customer_id}"
    _wait_for(lambda: client.get(detail_url).json()["provisioning_step"] == "wallet_link")

    issued = client.post(f"{detail_url}/wallet-challenges", {"address": SIGNER.address}, format="json").json()
    signature = SIGNER.sign_message(encode_defunct(text=issued["message"])).signature.to_0x_hex()
    linked = client.post(
        f"{detail_url}/wallets",
        {"address": SIGNER.address, "message": issued["message"], "signature": signature},
        format="json",
    )
    assert linked.status_code == 201
    _wait_for(lambda: client.get(detail_url).json()["status"] == "active")
    detail = client.get(detail_url).json()
    assert detail["signer_address"] == SIGNER.address
    assert detail["payer_address"]
    assert detail["payer_address"] != SIGNER.address
    assert detail["provisioning_error"] == ""
