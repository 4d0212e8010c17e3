"""The customers REST API: idempotent creation, validation, listing with cursor pages, detail."""

import uuid

import pytest
from django.utils import timezone
from factories import make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Wallet

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers"


def test_creating_a_customer_answers_201_and_queues_its_provisioning(
    partner, partner_client, customer_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = partner_client.post(
            URL, {"external_id": "user-1", "email": "ada@example.com"}, format="json"
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    customer = Customer.objects.get(partner=partner, external_id="user-1")
    assert body["id"] == str(customer.id)
    assert body["email"] == "ada@example.com"
    assert body["status"] == "provisioning"
    assert body["provisioning_step"] == "parsec_user"
    assert body["parsec_customer_id"] is None
    assert body["signer_address"] is None
    assert body["payer_address"] is None
    assert body["wallets"] == []
    assert customer_tasks == [("customers.provision", str(customer.id))]


def test_creating_the_same_external_id_again_answers_200_with_the_same_customer(
    partner_client, customer_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = partner_client.post(URL, {"external_id": "user-1", "email": "ada@example.com"}, format="json")
        again = partner_client.post(URL, {"external_id": "user-1"}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert Customer.objects.count() == 1
    assert len(customer_tasks) == 1  # provisioning is queued once, for the new customer only


def test_email_is_optional(partner_client, customer_tasks):
    response = partner_client.post(URL, {"external_id": "no-email", "email": None}, format="json")
    assert response.status_code == 201
    assert response.json()["email"] is None


@pytest.mark.parametrize(
    ("body", "field", "sentence"),
    [
        ({}, "external_id", "This field is required."),
        ({"external_id": ""}, "external_id", "This field may not be blank."),
        ({"external_id": "x" * 129}, "external_id", "must be at most 128 characters long"),
        ({"external_id": " user-1"}, "external_id", "Remove the spaces at the start or end."),
        ({"external_id": "user-1 "}, "external_id", "Remove the spaces at the start or end."),
        ({"external_id": "user\n1"}, "external_id", "printable characters only"),
        ({"external_id": "user\x071"}, "external_id", "printable characters only"),
        ({"external_id": "user-1", "email": "not an email"}, "email", "Enter a valid email address."),
    ],
)
def test_invalid_input_is_refused_in_the_one_error_shape(partner_client, body, field, sentence):
    response = partner_client.post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["error"] == f"Some fields are invalid: {field}."
    assert sentence in error["fields"][field]
    assert Customer.objects.count() == 0


def test_a_body_that_is_not_json_is_refused_in_the_one_error_shape(partner_client):
    response = partner_client.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_an_external_id_of_printable_unicode_up_to_128_characters_is_accepted(partner_client, customer_tasks):
    external_id = ("ユーザー/42:é" + "x" * 128)[:128]
    assert len(external_id) == 128
    response = partner_client.post(URL, {"external_id": external_id}, format="json")
    assert response.status_code == 201
    assert response.json()["external_id"] == external_id


def test_the_detail_shows_wallets_and_provisioning_state(partner, partner_client):
    customer = make_customer(partner=partner, parsec_customer_id=str(uuid.uuid4()))
    signer = make_eth_account("detail-signer").address
    payer = make_eth_account("detail-payer").address
    old_signer = make_eth_account("detail-old").address
    replaced = make_wallet(customer=customer, address=old_signer)
    Wallet.objects.filter(pk=replaced.pk).update(replaced_at=timezone.now())
    make_wallet(customer=customer, address=signer)
    make_wallet(customer=customer, address=payer, role=Wallet.Role.PAYER)
    Customer.objects.filter(pk=customer.pk).update(status=Customer.Status.ACTIVE)

    body = partner_client.get(f"{URL}/{customer.id}").json()
    assert body["status"] == "active"
    assert body["provisioning_step"] is None
    assert body["parsec_customer_id"] == customer.parsec_customer_id
    assert (body["signer_address"], body["payer_address"]) == (signer, payer)
    assert sorted((wallet["role"], wallet["address"]) for wallet in body["wallets"]) == [
        ("payer", payer),
        ("signer", signer),
    ]


def test_the_detail_names_the_step_provisioning_waits_for(partner, partner_client):
    customer = make_customer(partner=partner)
    assert partner_client.get(f"{URL}/{customer.id}").json()["provisioning_step"] == "parsec_user"
    Customer.objects.filter(pk=customer.pk).update(parsec_customer_id="p-1", provisioning_error="refused")
    body = partner_client.get(f"{URL}/{customer.id}").json()
    assert (body["provisioning_step"], body["provisioning_error"]) == ("wallet_link", "refused")
    make_wallet(customer=customer, address=make_eth_account("step").address)
    assert partner_client.get(f"{URL}/{customer.id}").json()["provisioning_step"] == "onboarding"


def test_the_list_is_newest_first_and_filters_by_status_and_external_id(partner, partner_client):
    older = make_customer(partner=partner, external_id="older")
    newer = make_customer(partner=partner, external_id="newer", status=Customer.Status.DISABLED)
    listed = partner_client.get(URL).json()["results"]
    assert [row["id"] for row in listed] == [str(newer.id), str(older.id)]
    assert [row["id"] for row in partner_client.get(URL, {"status": "disabled"}).json()["results"]] == [
        str(newer.id)
    ]
    assert [row["id"] for row in partner_client.get(URL, {"external_id": "older"}).json()["results"]] == [
        str(older.id)
    ]


def test_an_unknown_status_filter_is_a_validation_error(partner_client):
    response = partner_client.get(URL, {"status": "sleeping"})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "status" in response.json()["fields"]


def _walk_pages(client, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    url = f"{URL}?limit={limit}"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    return seen, pages


def test_cursor_pages_cover_every_customer_once_in_order(partner, partner_client):
    customers = [make_customer(partner=partner) for _ in range(7)]
    # Equal timestamps must not lose or repeat rows: the id breaks ties.
    Customer.objects.filter(pk__in=[c.pk for c in customers[:4]]).update(created_at=customers[0].created_at)
    seen, pages = _walk_pages(partner_client, limit=3)
    assert sorted(seen) == sorted(str(c.id) for c in customers)
    assert len(seen) == len(set(seen)) == 7
    assert pages == 3


@pytest.mark.parametrize("page_size", [2, 25])
def test_a_page_costs_the_same_queries_whatever_its_size(
    partner, partner_client, django_assert_max_num_queries, page_size
):
    for index in range(25):
        customer = make_customer(partner=partner)
        make_wallet(customer=customer, address=make_eth_account(f"page-{index}").address)
    partner_client.get(URL)  # the key's last_used_at is written on first use; measure steady state
    # API key lookup, the page, the current wallets of the page.
    with django_assert_max_num_queries(3):
        response = partner_client.get(URL, {"limit": page_size})
    assert len(response.json()["results"]) == page_size
    assert all(row["signer_address"] for row in response.json()["results"])


def test_the_detail_of_a_customer_costs_a_fixed_number_of_queries(
    partner, partner_client, django_assert_max_num_queries
):
    customer = make_customer(partner=partner)
    make_wallet(customer=customer, address=make_eth_account("fixed").address)
    partner_client.get(URL)
    with django_assert_max_num_queries(3):
        assert partner_client.get(f"{URL}/{customer.id}").status_code == 200


def test_the_same_external_id_under_two_partners_makes_two_customers(partner, partner_client, customer_tasks):
    from factories import make_api_key
    from rest_framework.test import APIClient

    other = APIClient()
    other.credentials(HTTP_X_API_KEY=make_api_key(partner=make_partner())[1])
    mine = partner_client.post(URL, {"external_id": "shared"}, format="json")
    theirs = other.post(URL, {"external_id": "shared"}, format="json")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
