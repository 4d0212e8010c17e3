"""Order texts that would not fit their columns are a 400 naming the field, never a database error."""

from __future__ import annotations

import pytest
from orders_support import order_body

from orders.models import Order

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("field", "value"),
    [("outcome", "Y" * 101), ("outcome", "Ye\x00s"), ("market_id", "KX\x00FED")],
)
def test_an_order_text_the_database_cannot_store_is_refused_naming_the_field(trader, enqueued, field, value):
    response = trader.post_order(order_body(**{field: value}))

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "bad_request"
    assert field in response.json()["fields"]
    assert Order.objects.count() == 0
