"""GET /customers: one page shape and a 400 naming any bad parameter or cursor; POST types exactly."""

from __future__ import annotations

import base64

import pytest
from factories import make_customer

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers"


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("limit", "0"),
        ("limit", "abc"),
        ("limit", "500"),
        ("status", "sleeping"),
        ("external_id", "nul\x00byte"),
        ("cursor", "bm90IGEgY3Vyc29y!"),
        ("cursor", base64.b64encode(b"p=garbage").decode()),
        ("cursor", base64.b64encode(b"p=10000-01-01").decode()),
    ],
)
def test_it_refuses_a_bad_list_parameter_naming_it(partner, partner_client, parameter, value):
    make_customer(partner=partner)

    response = partner_client.get(URL, {parameter: value})

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert parameter in body["fields"]


def test_customer_pages_carry_the_cursor_to_send_back(partner, partner_client):
    for _ in range(3):
        make_customer(partner=partner)

    first = partner_client.get(URL, {"limit": 2}).json()
    second = partner_client.get(URL, {"limit": 2, "cursor": first["next_cursor"]}).json()

    assert set(first) == {"results", "next", "previous", "next_cursor"}
    assert len(first["results"]) == 2
    assert [len(second["results"]), second["next_cursor"], second["next"]] == [1, None, None]
    assert {row["id"] for row in first["results"]}.isdisjoint({row["id"] for row in second["results"]})


@pytest.mark.parametrize("external_id", [42, 4.5, True, ["user-1"]])
def test_an_external_id_that_is_not_a_json_string_is_refused(partner_client, external_id):
    response = partner_client.post(URL, {"external_id": external_id}, format="json")

    assert response.status_code == 400, response.content
    assert "external_id" in response.json()["fields"]
