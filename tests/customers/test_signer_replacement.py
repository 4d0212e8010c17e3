"""Replacing a customer's signer wallet by proving the new one; one signer per customer within a partner."""

from decimal import Decimal

import pytest
from django.utils import timezone
from eth_account.messages import encode_defunct
from factories import make_api_key, make_customer, make_eth_account, make_partner, make_wallet
from rest_framework.test import APIClient

from customers import services
from customers.models import Customer, Wallet, WalletChallenge
from orders.models import Order

pytestmark = pytest.mark.django_db

OLD = make_eth_account("replacement old signer")
NEW = make_eth_account("replacement new signer")


def _prove(client, customer, account, **extra):
    issued = client.post(
        f"/api/v1/customers/{customer.id}/wallet-challenges", {"address": account.address}, format="json"
    )
    assert issued.status_code == 201, issued.json()
    message = issued.json()["message"]
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    return client.post(
        f"/api/v1/customers/{customer.id}/wallets",
        {"address": account.address, "message": message, "signature": signature, **extra},
        format="json",
    )


def _active_customer(partner, signer=OLD, parsec_customer_id="builder-user-1") -> Customer:
    customer = make_customer(
        partner=partner, status=Customer.Status.ACTIVE, parsec_customer_id=parsec_customer_id
    )
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    make_wallet(customer=customer, address=make_eth_account().address, role=Wallet.Role.PAYER)
    return customer


def _order(customer, status):
    now = timezone.now()
    return Order.objects.create(
        partner=customer.partner,
        customer=customer,
        status=status,
        exchange="kalshi",
        market_id="KXFEDDECISION-26JAN-C25",
        outcome="Yes",
        side="buy",
        price=Decimal("0.55"),
        size=Decimal("10"),
        created_at=now,
        updated_at=now,
    )


def test_a_second_wallet_is_refused_with_the_way_to_replace_the_signer(partner, partner_client):
    customer = _active_customer(partner)

    response = _prove(partner_client, customer, NEW)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "signer_already_linked"
    assert "replace_signer: true" in body["error"]
    assert customer.wallets.get(role=Wallet.Role.SIGNER, replaced_at__isnull=True).address == OLD.address


def test_replacing_the_signer_retires_signer_and_payer_and_provisions_a_new_builder_user(
    partner, partner_client, customer_tasks, django_capture_on_commit_callbacks
):
    customer = _active_customer(partner)
    old_payer = customer.wallets.get(role=Wallet.Role.PAYER).address

    with django_capture_on_commit_callbacks(execute=True):
        response = _prove(partner_client, customer, NEW, replace_signer=True)

    assert response.status_code == 201, response.json()
    assert (response.json()["address"], response.json()["role"]) == (NEW.address, "signer")
    customer.refresh_from_db()
    assert customer.status == Customer.Status.PROVISIONING
    assert customer.parsec_customer_id is None
    assert customer.previous_parsec_customer_ids == ["builder-user-1"]
    assert services.parsec_external_id(customer) == f"{customer.id}.1"
    current = dict(customer.wallets.filter(replaced_at__isnull=True).values_list("role", "address"))
    assert current == {Wallet.Role.SIGNER: NEW.address}
    retired = set(customer.wallets.filter(replaced_at__isnull=False).values_list("role", "address"))
    assert retired == {(Wallet.Role.SIGNER, OLD.address), (Wallet.Role.PAYER, old_payer)}
    assert customer_tasks == [("customers.provision", str(customer.id))]
    detail = partner_client.get(f"/api/v1/customers/{customer.id}").json()
    assert (detail["signer_address"], detail["payer_address"]) == (NEW.address, None)
    assert detail["provisioning_step"] == "parsec_user"


@pytest.mark.parametrize(
    "status", [Order.Status.AWAITING_FEE_AUTH, Order.Status.QUEUED, Order.Status.OPEN, Order.Status.UNKNOWN]
)
def test_a_replacement_is_refused_while_an_order_is_not_final(partner, partner_client, status):
    customer = _active_customer(partner)
    _order(customer, Order.Status.FILLED)
    _order(customer, status)

    response = _prove(partner_client, customer, NEW, replace_signer=True)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "customer_has_open_orders"
    assert "1 of its orders is not final" in body["error"]
    customer.refresh_from_db()
    assert (customer.status, customer.parsec_customer_id) == (Customer.Status.ACTIVE, "builder-user-1")
    assert customer.wallets.get(role=Wallet.Role.SIGNER, replaced_at__isnull=True).address == OLD.address
    # The refusal rolled back: the new wallet's challenge can still be used once the orders are final.
    assert WalletChallenge.objects.get(address=NEW.address).used_at is None


def test_a_replacement_is_allowed_once_every_order_is_final(partner, partner_client, customer_tasks):
    customer = _active_customer(partner)
    for status in Order.FINAL_STATUSES:
        _order(customer, status)
    assert _prove(partner_client, customer, NEW, replace_signer=True).status_code == 201


def test_a_wallet_cannot_be_the_signer_of_two_customers_of_one_partner(
    partner, partner_client, customer_tasks
):
    first = _active_customer(partner, signer=OLD)
    second = make_customer(partner=partner)

    response = _prove(partner_client, second, OLD)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "signer_linked_to_another_customer"
    assert str(first.id) in body["error"]
    assert not second.wallets.exists()

    replacing = _active_customer(partner, signer=NEW, parsec_customer_id="builder-user-2")
    refused = _prove(partner_client, replacing, OLD, replace_signer=True)
    assert (refused.status_code, refused.json()["code"]) == (409, "signer_linked_to_another_customer")


def test_one_wallet_may_sign_for_customers_of_different_partners(partner, customer_tasks):
    _active_customer(partner, signer=OLD)
    other_partner = make_partner()
    _, raw_key = make_api_key(partner=other_partner)
    other_client = APIClient()
    other_client.credentials(HTTP_X_API_KEY=raw_key)
    elsewhere = make_customer(partner=other_partner)

    assert _prove(other_client, elsewhere, OLD).status_code == 201


def test_a_replaced_signer_may_sign_for_another_customer_of_the_partner(
    partner, partner_client, customer_tasks
):
    first = _active_customer(partner, signer=OLD)
    assert _prove(partner_client, first, NEW, replace_signer=True).status_code == 201
    second = make_customer(partner=partner)
    assert _prove(partner_client, second, OLD).status_code == 201


def test_a_builder_user_created_before_the_replacement_is_not_recorded(partner, customer_tasks):
    customer = make_customer(partner=partner)
    make_wallet(customer=customer, address=OLD.address, role=Wallet.Role.SIGNER)
    Customer.objects.filter(pk=customer.pk).update(parsec_generation=1)

    stale = services.customer_parsec_id_record(
        customer_id=customer.pk, parsec_customer_id="old-user", now=timezone.now(), parsec_generation=0
    )

    assert stale.parsec_customer_id is None


@pytest.mark.django_db(transaction=True)
def test_the_new_signer_is_onboarded_at_parsec_under_a_new_builder_user_with_its_own_safe(
    parsec_sim, customer_tasks
):
    partner = make_partner()
    _, raw_key = make_api_key(partner=partner)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw_key)
    customer = make_customer(partner=partner)
    now = timezone.now()
    services.customer_provision(customer_id=customer.pk, now=now)
    assert _prove(client, customer, OLD).status_code == 201
    first = services.wallet_onboard(customer_id=customer.pk, now=now)
    assert first.status == Customer.Status.ACTIVE
    old_builder_user = first.parsec_customer_id
    old_safe = parsec_sim.get_builder_user(old_builder_user).wallet

    assert _prove(client, customer, NEW, replace_signer=True).status_code == 201
    services.customer_provision(customer_id=customer.pk, now=now)
    replaced = services.wallet_onboard(customer_id=customer.pk, now=now)

    assert replaced.status == Customer.Status.ACTIVE
    assert replaced.parsec_customer_id not in (None, old_builder_user)
    user = parsec_sim.get_builder_user(replaced.parsec_customer_id)
    assert user.external_id == f"{customer.id}.1"
    payer = replaced.wallets.get(role=Wallet.Role.PAYER, replaced_at__isnull=True).address
    assert payer == user.wallet
    assert payer != old_safe
    assert replaced.previous_parsec_customer_ids == [old_builder_user]
