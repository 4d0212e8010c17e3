"""The client asks its limiter before every call, with the call's priority, and tells it every answer;
a call the limiter refuses is never sent."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from parsec.client import RATE_BUDGET_EXHAUSTED, CallPriority, ParsecClient, ParsecUnavailable

ORDER = {
    "id": "o-1",
    "market_id": "M",
    "outcome": "Yes",
    "side": "buy",
    "price": "0.5",
    "size": "1",
    "filled": "0",
    "status": "open",
    "created_at": "2026-01-01T00:00:00Z",
}


class FakeLimiter:
    def __init__(self, refuse_with: float | None = None) -> None:
        self.refuse_with = refuse_with
        self.asked: list[tuple[str | None, CallPriority]] = []
        self.told: list[tuple[str | None, int, str | None, float | None]] = []

    def acquire(self, *, customer_id, priority):
        self.asked.append((customer_id, priority))
        return self.refuse_with

    def on_response(self, *, customer_id, status, headers, retry_after):
        self.told.append((customer_id, status, headers.get("x-ratelimit-pool-remaining"), retry_after))


def _client(limiter, handler, sent: list) -> ParsecClient:
    def record(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return handler(request)

    return ParsecClient(
        base_url="http://parsec.test/api/v1",
        api_key="pk_test_key",
        read_retries=0,
        transport=httpx.MockTransport(record),
        limiter=limiter,
    )


def _ok(request: httpx.Request) -> httpx.Response:
    body = [ORDER] if request.method == "GET" and request.url.path.endswith("/orders") else ORDER
    return httpx.Response(200, content=json.dumps(body), headers={"x-ratelimit-pool-remaining": "7"})


def test_each_call_takes_its_priority_and_its_users_scope():
    limiter, sent = FakeLimiter(), []
    client = _client(limiter, _ok, sent)
    body = {"market_id": "M", "outcome": "Yes", "side": "buy", "price": Decimal("0.5"), "size": Decimal(1)}
    client.create_order(exchange="kalshi", customer_id="c-1", body=body)
    client.cancel_order(exchange="kalshi", customer_id="c-1", order_id="o-1")
    client.list_orders(exchange="kalshi", customer_id="c-2")
    assert limiter.asked == [
        ("c-1", CallPriority.CREATE),
        ("c-1", CallPriority.CANCEL),
        ("c-2", CallPriority.READ),
    ]
    assert [(customer, status, remaining) for customer, status, remaining, _ in limiter.told] == [
        ("c-1", 200, "7"),
        ("c-1", 200, "7"),
        ("c-2", 200, "7"),
    ]
    assert len(sent) == 3


def test_a_refused_create_is_not_sent_and_is_unavailable_with_when_to_retry():
    limiter, sent = FakeLimiter(refuse_with=0.25), []
    client = _client(limiter, _ok, sent)
    body = {"market_id": "M", "outcome": "Yes", "side": "buy", "price": Decimal("0.5"), "size": Decimal(1)}
    with pytest.raises(ParsecUnavailable) as caught:
        client.create_order(exchange="kalshi", customer_id="c-1", body=body)
    assert caught.value.code == RATE_BUDGET_EXHAUSTED
    assert caught.value.retry_after == 0.25
    assert caught.value.status is None
    assert sent == []


def test_a_refused_read_is_not_retried_by_the_client():
    limiter, sent = FakeLimiter(refuse_with=1.0), []
    client = ParsecClient(
        base_url="http://parsec.test/api/v1",
        api_key="pk_test_key",
        read_retries=3,
        transport=httpx.MockTransport(lambda request: sent.append(request) or _ok(request)),
        limiter=limiter,
    )
    with pytest.raises(ParsecUnavailable):
        client.list_orders(exchange="kalshi", customer_id="c-1")
    assert len(limiter.asked) == 1  # the limiter already waited as long as it may
    assert sent == []


def test_a_429_tells_the_limiter_its_retry_after():
    limiter, sent = FakeLimiter(), []

    def refuse(request: httpx.Request) -> httpx.Response:
        body = {"error": "slow down", "code": "rate_limit_exceeded", "retryable": True}
        return httpx.Response(429, content=json.dumps(body), headers={"Retry-After": "3"})

    client = _client(limiter, refuse, sent)
    with pytest.raises(ParsecUnavailable) as caught:
        client.cancel_order(exchange="kalshi", customer_id="c-1", order_id="o-1")
    assert caught.value.status == 429
    assert limiter.told == [("c-1", 429, None, 3.0)]


def test_a_limiter_that_fails_on_an_answer_does_not_change_the_answer():
    class Broken(FakeLimiter):
        def on_response(self, **kwargs):
            raise RuntimeError("store down")

    client = _client(Broken(), _ok, [])
    assert client.get_order(exchange="kalshi", customer_id="c-1", order_id="o-1").id == "o-1"
