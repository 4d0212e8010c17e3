"""A partner changes its customers: a re-post never changes them silently, PATCH changes email and status."""

import pytest
from django.utils import timezone
from factories import make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Wallet

pytestmark = pytest.mark.django_db


def _post(client, **body):
    return client.post("/api/v1/customers", body, format="json")


def _patch(client, customer, **body):
    return client.patch(f"/api/v1/customers/{customer.id}", body, format="json")


def _ready_customer(partner, **fields) -> Customer:
    customer = make_customer(partner=partner, parsec_customer_id=f"p-{timezone.now().timestamp()}", **fields)
    make_wallet(customer=customer, address=make_eth_account().address, role=Wallet.Role.SIGNER)
    make_wallet(customer=customer, address=make_eth_account().address, role=Wallet.Role.PAYER)
    return customer


# --- Re-posting a customer ---------------------------------------------------------------------------


def test_a_repost_with_another_email_is_refused_and_changes_nothing(partner_client, customer_tasks):
    first = _post(partner_client, external_id="u-1", email="old@example.com")
    assert first.status_code == 201

    again = _post(partner_client, external_id="u-1", email="new@example.com")

    assert again.status_code == 409
    body = again.json()
    assert body["code"] == "customer_email_differs"
    assert "was not changed" in body["error"]
    assert f"PATCH /api/v1/customers/{first.json()['id']}" in body["error"]
    assert Customer.objects.get().email == "old@example.com"


@pytest.mark.parametrize("email", ["old@example.com", "OLD@example.com", None, ""], ids=str)
def test_a_repost_with_the_same_or_no_email_answers_the_customer_unchanged(
    partner_client, customer_tasks, email
):
    first = _post(partner_client, external_id="u-1", email="old@example.com")
    body = {"external_id": "u-1"} | ({} if email is None else {"email": email})

    again = partner_client.post("/api/v1/customers", body, format="json")

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["email"] == "old@example.com"


# --- PATCH -------------------------------------------------------------------------------------------------


def test_patch_changes_the_email_and_keeps_the_rest(partner, partner_client):
    customer = make_customer(partner=partner, email="old@example.com")

    response = _patch(partner_client, customer, email="new@example.com")

    assert response.status_code == 200, response.json()
    assert response.json()["email"] == "new@example.com"
    assert response.json()["status"] == "provisioning"
    customer.refresh_from_db()
    assert customer.email == "new@example.com"


def test_patch_with_a_null_email_clears_it(partner, partner_client):
    customer = make_customer(partner=partner, email="old@example.com")
    assert _patch(partner_client, customer, email=None).json()["email"] is None


def test_patch_disables_an_active_customer_and_enables_it_again(partner, partner_client):
    customer = _ready_customer(partner, status=Customer.Status.ACTIVE)

    disabled = _patch(partner_client, customer, status="disabled")
    assert (disabled.status_code, disabled.json()["status"]) == (200, "disabled")

    challenge = partner_client.post(
        f"/api/v1/customers/{customer.id}/wallet-challenges",
        {"address": make_eth_account().address},
        format="json",
    )
    assert (challenge.status_code, challenge.json()["code"]) == (409, "customer_disabled")

    enabled = _patch(partner_client, customer, status="active")
    assert (enabled.status_code, enabled.json()["status"]) == (200, "active")


def test_enabling_a_customer_disabled_before_it_was_ready_resumes_provisioning(
    partner, partner_client, customer_tasks, django_capture_on_commit_callbacks
):
    customer = make_customer(partner=partner, status=Customer.Status.DISABLED)

    with django_capture_on_commit_callbacks(execute=True):
        enabled = _patch(partner_client, customer, status="active")

    assert (enabled.status_code, enabled.json()["status"]) == (200, "provisioning")
    assert customer_tasks == [("customers.provision", str(customer.id))]


def test_a_customer_still_provisioning_cannot_be_set_active(partner, partner_client):
    customer = make_customer(partner=partner)
    response = _patch(partner_client, customer, status="active")
    assert (response.status_code, response.json()["code"]) == (409, "customer_still_provisioning")
    customer.refresh_from_db()
    assert customer.status == Customer.Status.PROVISIONING


@pytest.mark.parametrize(
    "body", [{}, {"status": "provisioning"}, {"status": "gone"}, {"email": "not an email"}], ids=str
)
def test_patch_refuses_what_it_cannot_apply_naming_the_field(partner, partner_client, body):
    customer = make_customer(partner=partner, email="old@example.com")
    response = _patch(partner_client, customer, **body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    customer.refresh_from_db()
    assert (customer.email, customer.status) == ("old@example.com", Customer.Status.PROVISIONING)


def test_patch_of_another_partners_customer_answers_the_same_404_as_a_missing_one(partner_client):
    foreign = make_customer(partner=make_partner())
    # One request id for both, so their bodies can be compared byte for byte.
    response = partner_client.patch(
        f"/api/v1/customers/{foreign.id}", {"status": "disabled"}, format="json", HTTP_X_REQUEST_ID="same"
    )
    missing = partner_client.patch(
        "/api/v1/customers/6b0c4b54-4b1b-4d79-8f3e-0d3c3c9a6a11",
        {"status": "disabled"},
        format="json",
        HTTP_X_REQUEST_ID="same",
    )
    assert response.status_code == missing.status_code == 404
    assert response.content == missing.content
    foreign.refresh_from_db()
    assert foreign.status == Customer.Status.PROVISIONING


def test_patch_is_in_the_schema_with_its_errors(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/customers/{customer_id}"]["patch"]
    assert operation["operationId"] == "customers_update"
    assert {"200", "400", "404", "409"} <= set(operation["responses"])
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    properties = schema["components"]["schemas"][request]["properties"]
    assert set(properties) == {"email", "status"}
