"""schemathesis over every operation of /api/schema/, authenticated: no 5xx, nothing the schema contradicts.

A bounded number of examples per operation and mode keeps this in the suite (benchmarks/schema_fuzz.py
runs many more). The partner has an active customer and an order, so some requests find real objects.
"""

from __future__ import annotations

import pytest
import schemathesis
from factories import make_api_key
from fuzz_support import fuzz
from orders_support import make_trader, place

MAX_EXAMPLES = 8


@pytest.fixture
def fuzz_partner(parsec_sim, tradable_exchanges):
    trader = make_trader(parsec_client=parsec_sim, name="Fuzz partner")
    _, raw_key = make_api_key(partner=trader.partner)
    order = place(trader)
    return raw_key, {
        "customer_id": str(trader.customer.id),
        "order_id": str(order.id),
        "X-Builder-Customer-Id": str(trader.customer.id),
    }


def test_no_generated_request_gets_a_5xx_or_an_answer_the_schema_contradicts(live_server, fuzz_partner):
    api_key, real_ids = fuzz_partner
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")

    report = fuzz(
        schema, base_url=live_server.url, api_key=api_key, max_examples=MAX_EXAMPLES, real_ids=real_ids
    )

    assert report.requests >= 13 * 2 * MAX_EXAMPLES // 2, report.summary()
    assert report.server_errors == [], "\n".join(report.server_errors)
    assert report.violations == [], "\n".join(report.violations)
    # The run reached past authentication and validation: some requests succeeded.
    assert any(200 <= status < 300 for status in report.statuses), report.summary()
