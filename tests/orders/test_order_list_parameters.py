"""GET /orders: one page shape, and a 400 naming the parameter for every bad query value or cursor."""

from __future__ import annotations

import base64
from decimal import Decimal
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from orders_support import place

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders"


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _assert_names(response, parameter: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error"
    assert parameter in body["fields"], body
    assert parameter in body["error"]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("limit", "0"),
        ("limit", "abc"),
        ("limit", "201"),
        ("limit", "-1"),
        ("limit", ""),
        ("limit", "9" * 5000),
        ("exchange", "nope"),
        ("status", "exploded"),
        ("customer", "not-a-uuid"),
        ("created_after", "yesterday"),
        ("created_before", "2026-02-30T00:00:00Z"),
        ("cursor", "%%%not-base64"),
        ("cursor", _cursor("o=abc")),
        # A cursor that decodes but whose position is no date-time: a 500 from the database before.
        ("cursor", _cursor("p=garbage")),
        ("cursor", _cursor("p=10000-01-01")),
        ("cursor", _cursor("p=")),
    ],
)
def test_it_refuses_a_bad_list_parameter_naming_it(trader, enqueued, parameter, value):
    place(trader)

    _assert_names(trader.client.get(URL, {parameter: value}), parameter)


@pytest.mark.parametrize("offset", ["+17:00", "-16:00", "+23:59"])
def test_a_date_with_an_offset_postgresql_refuses_is_still_compared_in_utc(trader, enqueued, offset):
    order = place(trader)

    # 2000-01-01T00:00+17:00 is 1999-12-31T07:00Z: every order is after it, none before it.
    after = trader.client.get(URL, {"created_after": f"2000-01-01T00:00:00{offset}"})
    before = trader.client.get(URL, {"created_before": f"2000-01-01T00:00:00{offset}"})

    assert after.status_code == 200, after.content
    assert [item["id"] for item in after.json()["results"]] == [str(order.id)]
    assert before.status_code == 200, before.content
    assert before.json()["results"] == []


def test_a_date_that_leaves_the_calendar_in_utc_is_a_400(trader, enqueued):
    _assert_names(trader.client.get(URL, {"created_after": "9999-12-31T23:59:59-05:00"}), "created_after")


def test_a_cursor_position_with_a_large_offset_is_read_in_utc(trader, enqueued):
    older = place(trader, price=Decimal("0.02"))
    place(trader, price=Decimal("0.03"))
    # A position far in the future, written with +17:00: the page from there holds both orders.
    position = urlencode({"p": "2999-01-01 00:00:00+17:00"})  # as DRF writes a cursor's position
    response = trader.client.get(URL, {"cursor": _cursor(position)})

    assert response.status_code == 200, response.content
    assert str(older.id) in [item["id"] for item in response.json()["results"]]


def test_every_page_has_results_links_and_the_cursor_to_send_back(trader, enqueued):
    for index in range(5):
        place(trader, price=Decimal(index + 1) / 100)

    seen: list[str] = []
    first = trader.client.get(URL, {"limit": 2}).json()
    assert set(first) == {"results", "next", "previous", "next_cursor"}
    assert first["previous"] is None
    page = first
    while True:
        seen += [item["id"] for item in page["results"]]
        if page["next_cursor"] is None:
            assert page["next"] is None
            break
        # next_cursor is exactly what the next link carries.
        assert parse_qs(urlsplit(page["next"]).query)["cursor"] == [page["next_cursor"]]
        page = trader.client.get(URL, {"limit": 2, "cursor": page["next_cursor"]}).json()
        assert page["previous"] is not None
    assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    ("parameter", "value"), [("statuss", "open"), ("page", "2"), ("market_id", ""), ("market_id", "KX\x00")]
)
def test_a_misspelt_or_empty_parameter_is_refused_rather_than_ignored(trader, enqueued, parameter, value):
    place(trader)

    _assert_names(trader.client.get(URL, {parameter: value}), parameter)


def test_placing_an_order_refuses_a_query_parameter_it_does_not_take(trader, enqueued):
    response = trader.client.post(
        f"{URL}?exchange=kalshi&exchnage=kalshi",
        data=b"{}",
        content_type="application/json",
        HTTP_X_BUILDER_CUSTOMER_ID=str(trader.customer.id),
        HTTP_IDEMPOTENCY_KEY="unknown-parameter",
    )

    _assert_names(response, "exchnage")
