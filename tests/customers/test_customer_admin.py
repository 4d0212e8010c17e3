"""Admin pages load for every model, keys are shown once and never again, revocation and search work."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from factories import make_api_key, make_customer, make_eth_account, make_partner, make_wallet
from rest_framework.test import APIClient

from customers import services
from customers.models import Customer, Partner, PartnerApiKey, Wallet, WalletChallenge

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser(username="root", email="", password="pw-for-tests")
    client.force_login(user)
    return client


@pytest.fixture
def objects():
    partner = make_partner(name="Acme")
    api_key, raw_key = make_api_key(partner=partner)
    customer = make_customer(partner=partner, external_id="user-1", email="ada@example.com")
    wallet = make_wallet(customer=customer, address=make_eth_account("admin").address)
    challenge = services.wallet_challenge_create(
        customer=customer, address=wallet.address, now=timezone.now()
    )
    return {
        Partner: partner,
        PartnerApiKey: api_key,
        Customer: customer,
        Wallet: wallet,
        WalletChallenge: challenge,
        "raw_key": raw_key,
    }


@pytest.mark.parametrize("model", [Partner, PartnerApiKey, Customer, Wallet, WalletChallenge])
def test_the_changelist_and_change_page_of_every_model_load(admin_client, objects, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(
        reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[objects[model].pk])
    )
    assert change.status_code == 200


def test_no_page_shows_a_key_hash(admin_client, objects):
    api_key = objects[PartnerApiKey]
    pages = [
        reverse("admin:customers_partnerapikey_changelist"),
        reverse("admin:customers_partnerapikey_change", args=[api_key.pk]),
        reverse("admin:customers_partner_change", args=[api_key.partner_id]),
    ]
    for page in pages:
        content = admin_client.get(page).content.decode()
        assert api_key.key_hash not in content
        assert objects["raw_key"] not in content
    assert f"bp_{api_key.prefix}" in admin_client.get(pages[0]).content.decode()


def test_the_create_key_action_shows_a_working_key_once(admin_client, objects):
    partner = objects[Partner]
    changelist = reverse("admin:customers_partner_changelist")
    response = admin_client.post(
        changelist, {"action": "create_api_key", "_selected_action": [partner.pk]}, follow=True
    )
    assert response.status_code == 200
    messages = [str(message) for message in response.context["messages"]]
    assert len(messages) == 1
    raw_key = next(word for word in messages[0].split() if word.startswith("bp_"))
    api_client = APIClient()
    api_client.credentials(HTTP_X_API_KEY=raw_key)
    assert api_client.get("/api/v1/customers").status_code == 200
    # Shown once: the next page has no trace of it.
    assert raw_key not in admin_client.get(changelist).content.decode()
    assert PartnerApiKey.objects.filter(partner=partner).count() == 2


def test_the_revoke_action_revokes_the_selected_keys(admin_client, objects):
    api_key = objects[PartnerApiKey]
    admin_client.post(
        reverse("admin:customers_partnerapikey_changelist"),
        {"action": "revoke", "_selected_action": [api_key.pk]},
    )
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    api_client = APIClient()
    api_client.credentials(HTTP_X_API_KEY=objects["raw_key"])
    assert api_client.get("/api/v1/customers").status_code == 401


@pytest.mark.parametrize(
    "term",
    ["customer_id", "user-1", "ada@example.com", "wallet_address", "not-a-uuid"],
)
def test_customers_can_be_found_by_id_external_id_email_and_wallet(admin_client, objects, term):
    customer = objects[Customer]
    query = {"customer_id": str(customer.id), "wallet_address": objects[Wallet].address}.get(term, term)
    response = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": query})
    assert response.status_code == 200
    found = list(response.context["cl"].result_list)
    assert found == ([] if term == "not-a-uuid" else [customer])


def test_the_customer_changelist_does_not_query_per_row(admin_client, django_assert_max_num_queries):
    partner = make_partner()
    for _ in range(3):
        make_customer(partner=partner)
    url = reverse("admin:customers_customer_changelist")
    admin_client.get(url)
    with django_assert_max_num_queries(12) as few:
        admin_client.get(url)
    for _ in range(20):
        make_customer(partner=make_partner())
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(url)


def test_the_retry_action_clears_a_refusal_and_queues_provisioning(
    admin_client, objects, customer_tasks, django_capture_on_commit_callbacks
):
    customer = objects[Customer]
    Customer.objects.filter(pk=customer.pk).update(provisioning_error="Parsec refused the builder user")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            reverse("admin:customers_customer_changelist"),
            {"action": "retry_provisioning", "_selected_action": [customer.pk]},
        )
    customer.refresh_from_db()
    assert customer.provisioning_error == ""
    assert customer_tasks == [("customers.provision", str(customer.id))]
