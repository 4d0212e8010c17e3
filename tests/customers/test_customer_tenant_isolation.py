"""Every customer endpoint is scoped to the calling partner: another partner's customer is a plain 404."""

import uuid

import pytest
from factories import make_api_key, make_customer, make_eth_account, make_partner
from rest_framework.test import APIClient

from customers.models import Customer, WalletChallenge

pytestmark = pytest.mark.django_db

ADDRESS = make_eth_account("isolation").address


def _client_for(partner) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(partner=partner)[1])
    return client


@pytest.fixture
def foreign_customer():
    return make_customer(partner=make_partner(name="Other partner"), external_id="theirs")


ENDPOINTS = [
    ("get", "/api/v1/customers/{id}", None),
    ("post", "/api/v1/customers/{id}/wallet-challenges", {"address": ADDRESS}),
    ("post", "/api/v1/customers/{id}/wallets", {"address": ADDRESS, "message": "m", "signature": "0x00"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
def test_another_partners_customer_answers_exactly_like_a_missing_one(
    partner_client, foreign_customer, method, path, body
):
    def call(customer_id: str):
        # One request id for all three, so their bodies can be compared whole.
        return getattr(partner_client, method)(
            path.format(id=customer_id), body, format="json", HTTP_X_REQUEST_ID="isolation-check"
        )

    foreign = call(str(foreign_customer.id))
    missing = call(str(uuid.uuid4()))
    malformed = call("not-a-uuid")
    assert foreign.status_code == missing.status_code == malformed.status_code == 404
    assert (
        foreign.json()
        == missing.json()
        == malformed.json()
        == {
            "error": "No customer with this id.",
            "code": "not_found",
            "request_id": "isolation-check",
        }
    )
    assert WalletChallenge.objects.count() == 0
    assert not foreign_customer.wallets.exists()


def test_each_partner_lists_only_its_own_customers(partner, partner_client, foreign_customer):
    mine = make_customer(partner=partner, external_id="mine")
    theirs_client = _client_for(foreign_customer.partner)
    assert [row["id"] for row in partner_client.get("/api/v1/customers").json()["results"]] == [str(mine.id)]
    assert [row["id"] for row in theirs_client.get("/api/v1/customers").json()["results"]] == [
        str(foreign_customer.id)
    ]
    # Filtering by another partner's external id finds nothing either.
    assert partner_client.get("/api/v1/customers", {"external_id": "theirs"}).json()["results"] == []


def test_creating_with_another_partners_external_id_never_answers_their_customer(
    partner_client, foreign_customer, customer_tasks
):
    response = partner_client.post("/api/v1/customers", {"external_id": "theirs"}, format="json")
    assert response.status_code == 201
    assert response.json()["id"] != str(foreign_customer.id)
    assert Customer.objects.filter(external_id="theirs").count() == 2


def test_a_challenge_issued_for_one_partners_customer_cannot_link_a_wallet_elsewhere(
    partner, partner_client, foreign_customer
):
    account = make_eth_account("cross")
    theirs_client = _client_for(foreign_customer.partner)
    issued = theirs_client.post(
        f"/api/v1/customers/{foreign_customer.id}/wallet-challenges",
        {"address": account.address},
        format="json",
    ).json()
    from eth_account.messages import encode_defunct

    signature = account.sign_message(encode_defunct(text=issued["message"])).signature.to_0x_hex()
    mine = make_customer(partner=partner)
    response = partner_client.post(
        f"/api/v1/customers/{mine.id}/wallets",
        {"address": account.address, "message": issued["message"], "signature": signature},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "challenge_not_found"
    assert not mine.wallets.exists()
