"""The Parsec client tells its observer the endpoint (never an id), the outcome and Parsec's budget."""

from __future__ import annotations

import httpx
import pytest

from parsec.client import (
    CallObservation,
    ParsecClient,
    ParsecInDoubt,
    ParsecRejected,
    ParsecUnavailable,
    endpoint_name,
)

ORDER_JSON = {
    "id": "o-1",
    "exchange": "kalshi",
    "market_id": "M",
    "outcome": "Yes",
    "side": "buy",
    "price": "0.5",
    "size": "1",
    "filled_size": "0",
    "status": "open",
}


def client_answering(handler) -> tuple[ParsecClient, list[CallObservation]]:
    seen: list[CallObservation] = []
    client = ParsecClient(
        base_url="http://parsec.test/api/v1",
        api_key="pk_sim_secret",
        read_retries=0,
        transport=httpx.MockTransport(handler),
        observer=seen.append,
    )
    return client, seen


def test_an_endpoint_name_has_no_ids():
    assert endpoint_name("GET", "orders/abc-123") == "GET orders/{order_id}"
    assert endpoint_name("DELETE", "orders/abc") == "DELETE orders/{order_id}"
    assert endpoint_name("PATCH", "builder/users/cus_9") == "PATCH builder/users/{customer_id}"
    assert endpoint_name("POST", "orders") == "POST orders"
    assert endpoint_name("GET", "builder/escrow/config") == "GET builder/escrow/config"


def test_a_success_reports_ok_and_parsecs_remaining_budget():
    def answer(request):
        return httpx.Response(
            200, json=[], headers={"x-ratelimit-pool-remaining": "97", "x-ratelimit-user-remaining": "12"}
        )

    client, seen = client_answering(answer)
    client.list_exchanges()
    (observation,) = seen
    assert (observation.endpoint, observation.outcome, observation.status) == ("GET exchanges", "ok", 200)
    assert (observation.rate_limit_pool_remaining, observation.rate_limit_user_remaining) == (97, 12)
    assert observation.seconds >= 0


@pytest.mark.parametrize(
    ("status", "method", "outcome", "error"),
    [
        (429, "get_order", "rate_limited", ParsecUnavailable),
        (503, "get_order", "unavailable", ParsecUnavailable),
        (404, "get_order", "rejected", ParsecRejected),
        (500, "cancel_order", "in_doubt", ParsecInDoubt),
    ],
)
def test_each_refusal_has_its_outcome(status, method, outcome, error):
    client, seen = client_answering(lambda request: httpx.Response(status, json={"error": "no", "code": "x"}))
    with pytest.raises(error):
        getattr(client, method)(exchange="kalshi", customer_id="c", order_id="o-42")
    (observation,) = seen
    assert observation.outcome == outcome
    assert observation.endpoint.endswith("orders/{order_id}")
    assert observation.rate_limit_pool_remaining is None


def test_a_connection_that_never_opens_is_unavailable():
    def refuse(request):
        raise httpx.ConnectError("refused")

    client, seen = client_answering(refuse)
    with pytest.raises(ParsecUnavailable):
        client.list_exchanges()
    assert [(o.outcome, o.status) for o in seen] == [("unavailable", None)]


def test_an_observer_that_fails_changes_nothing_of_the_call():
    def broken(observation):
        raise RuntimeError("observer bug")

    client = ParsecClient(
        base_url="http://parsec.test/api/v1",
        api_key="k",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=[])),
        observer=broken,
    )
    assert client.list_exchanges() == []
