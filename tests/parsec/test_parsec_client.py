"""The Parsec client on its own: request shape, exact decimals, outcome classification, retry policy."""

import json
import pickle
import socket
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from parsec.client import (
    ParsecClient,
    ParsecInDoubt,
    ParsecRejected,
    ParsecUnavailable,
    decode_json,
    encode_json,
)

API_KEY = "pk_live_0123456789abcdef0123456789abcdef"
SIGNATURE = "0x" + "ab" * 65
CUSTOMER = "4f1c2a0e-8a51-4d4b-9a55-4b1f0c1e2d3a"

ORDER = {
    "id": "order_abc123",
    "market_id": "0x1234abcd",
    "outcome": "Yes",
    "side": "buy",
    "price": 0.65,
    "size": 100.0,
    "filled": 0.0,
    "status": "open",
    "created_at": "2026-01-26T12:00:00Z",
    "updated_at": None,
}


class Recorder:
    """A MockTransport handler answering from a script and remembering each request."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(recorder: Recorder, *, read_retries: int = 2) -> tuple[ParsecClient, list[float]]:
    client = ParsecClient(
        base_url="https://parsec.test/api/v1",
        api_key=API_KEY,
        read_retries=read_retries,
        transport=httpx.MockTransport(recorder),
    )
    waits: list[float] = []
    client._sleep = waits.append
    return client, waits


def json_answer(status: int, body, headers=None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers or {})


def error_answer(status: int, code: str, message: str, headers=None) -> httpx.Response:
    return json_answer(status, {"error": message, "code": code, "retryable": status >= 500}, headers)


def create(client: ParsecClient):
    return client.create_order(
        exchange="polymarket",
        customer_id=CUSTOMER,
        body={
            "market_id": "0x1234abcd",
            "outcome": "Yes",
            "side": "buy",
            "price": Decimal("0.65"),
            "size": 100,
        },
    )


# --- Request shape and JSON ----------------------------------------------------------------------------


def test_create_order_sends_the_key_the_customer_and_exact_decimal_numbers():
    recorder = Recorder(json_answer(200, ORDER))
    client, _ = make_client(recorder)

    order = client.create_order(
        exchange="polymarket",
        customer_id=CUSTOMER,
        body={
            "market_id": "m",
            "outcome": "Yes",
            "side": "buy",
            "price": Decimal("0.123456789012345678"),
            "size": 1,
        },
    )

    request = recorder.requests[0]
    assert request.method == "POST"
    assert request.url.path == "/api/v1/orders"
    assert request.url.params["exchange"] == "polymarket"
    assert request.headers["X-API-Key"] == API_KEY
    assert request.headers["X-Builder-Customer-Id"] == CUSTOMER
    assert b'"price":0.123456789012345678' in request.content
    assert order.price == Decimal("0.65")
    assert order.size == Decimal("100.0")
    assert order.created_at == datetime(2026, 1, 26, 12, tzinfo=UTC)
    assert order.updated_at is None


def test_json_round_trip_keeps_decimals_exact():
    text = encode_json({"price": Decimal("0.1"), "sizes": [Decimal("1E+2"), 3], "ok": True, "none": None})
    assert text == '{"price":0.1,"sizes":[100,3],"ok":true,"none":null}'
    assert decode_json(text)["price"] == Decimal("0.1")


def test_builder_user_reports_whether_parsec_created_it_and_drops_the_api_key():
    body = {
        "customer_id": CUSTOMER,
        "external_id": "user-42",
        "api_key": "pk_live_user_secret_key_123456",
        "status": "active",
        "linked_exchanges": ["polymarket"],
        "fee_escrow_enabled": True,
    }
    client, _ = make_client(Recorder(json_answer(201, body), json_answer(200, body)))

    first = client.create_builder_user(external_id="user-42")
    again = client.create_builder_user(external_id="user-42")

    assert (first.created, again.created) == (True, False)
    assert first.linked_exchanges == ("polymarket",)
    assert "pk_live_user_secret" not in repr(first)


def test_escrow_config_reads_the_minimum_fee_sent_as_a_string():
    body = {
        "fee_escrow_enabled": True,
        "fee_bps": 25,
        "affiliate_address": None,
        "escrow_contract_address": "0x39F35887e583ed7d6eFf6fa472359371145ba549",
        "min_fee_usdc": "10000",
        "min_fee_bps": 1,
        "treasury_address": "0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e",
        "affiliate_fee_bps": 5000,
    }
    client, _ = make_client(Recorder(json_answer(200, body)))

    config = client.get_escrow_config()

    assert config.min_fee_usdc == 10_000
    assert config.chain_id == 137


def test_an_id_that_would_change_the_path_is_refused_before_sending():
    recorder = Recorder(json_answer(200, ORDER))
    client, _ = make_client(recorder)

    with pytest.raises(ValueError, match="id in a Parsec path"):
        client.get_order(exchange="kalshi", customer_id=CUSTOMER, order_id="../builder/users")
    assert recorder.requests == []


# --- Classification ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "bad_request"),
        (401, "unauthorized"),
        (403, "unauthorized"),
        (404, "order_not_found"),
        (501, "not_supported"),
    ],
)
def test_a_refusal_is_rejected_with_parsecs_code_and_sentence(status, code):
    client, _ = make_client(Recorder(error_answer(status, code, "price must be strictly between 0 and 1")))

    with pytest.raises(ParsecRejected) as caught:
        create(client)

    assert (caught.value.status, caught.value.code) == (status, code)
    assert caught.value.message == "price must be strictly between 0 and 1"


def test_rate_limit_is_unavailable_with_retry_after_and_a_create_is_sent_once():
    recorder = Recorder(error_answer(429, "rate_limit_exceeded", "slow down", {"Retry-After": "1.5"}))
    client, _ = make_client(recorder)

    with pytest.raises(ParsecUnavailable) as caught:
        create(client)

    assert caught.value.status == 429
    assert caught.value.retry_after == 1.5
    assert len(recorder.requests) == 1


def test_a_503_to_a_create_is_unavailable_and_never_retried():
    recorder = Recorder(error_answer(503, "service_unavailable", "exchange down", {"Retry-After": "2"}))
    client, _ = make_client(recorder)

    with pytest.raises(ParsecUnavailable) as caught:
        create(client)

    assert caught.value.status == 503
    assert caught.value.retry_after == 2
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_500_502_or_504_to_a_create_leaves_it_in_doubt_and_is_never_retried(status):
    # The order may have been placed before the error: only a listing can tell.
    recorder = Recorder(httpx.Response(status, content=b"<html>bad gateway</html>"))
    client, _ = make_client(recorder)

    with pytest.raises(ParsecInDoubt) as caught:
        create(client)

    assert str(status) in caught.value.message
    assert len(recorder.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_to_a_read_is_unavailable_and_retried(status):
    recorder = Recorder(httpx.Response(status, content=b"<html>bad gateway</html>"))
    client, _ = make_client(recorder)

    with pytest.raises(ParsecUnavailable) as caught:
        client.list_exchanges()

    assert caught.value.status == status
    assert len(recorder.requests) == 1 + client.read_retries


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"), httpx.PoolTimeout("no slot")],
)
def test_failures_before_sending_are_unavailable(error):
    recorder = Recorder(error)
    client, _ = make_client(recorder)

    with pytest.raises(ParsecUnavailable) as caught:
        create(client)

    assert caught.value.status is None
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
        httpx.WriteTimeout("write timed out"),
    ],
)
def test_failures_after_sending_leave_the_create_in_doubt(error):
    recorder = Recorder(error)
    client, _ = make_client(recorder)

    with pytest.raises(ParsecInDoubt):
        create(client)
    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    "error", [httpx.ReadTimeout("timed out"), httpx.RemoteProtocolError("Server disconnected.")]
)
def test_a_read_whose_answer_is_lost_is_only_unavailable_and_is_retried(error):
    recorder = Recorder(error)
    client, _ = make_client(recorder)

    with pytest.raises(ParsecUnavailable) as caught:
        client.list_exchanges()
    assert caught.value.code == "no_answer"
    assert len(recorder.requests) == 1 + client.read_retries  # a GET changes nothing: safe to resend


def test_an_unreadable_success_answer_to_a_create_is_in_doubt():
    client, _ = make_client(Recorder(httpx.Response(200, content=b"<html>ok</html>")))

    with pytest.raises(ParsecInDoubt):
        create(client)


def test_cancel_and_onboard_are_not_retried():
    recorder = Recorder(error_answer(503, "service_unavailable", "down"))
    client, _ = make_client(recorder)

    with pytest.raises(ParsecUnavailable):
        client.cancel_order(exchange="kalshi", customer_id=CUSTOMER, order_id="order_1")
    with pytest.raises(ParsecUnavailable):
        client.onboard(customer_id=CUSTOMER, exchange="polymarket", eoa_address="0x" + "11" * 20)
    with pytest.raises(ParsecUnavailable):
        client.create_builder_user(external_id="user-42")
    assert len(recorder.requests) == 3


def test_a_connection_refused_by_a_real_socket_is_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = ParsecClient(base_url=f"http://127.0.0.1:{port}/api/v1", api_key=API_KEY, read_retries=0)

    with pytest.raises(ParsecUnavailable):
        client.list_exchanges()


# --- Read retries --------------------------------------------------------------------------------------


def test_reads_retry_unavailable_answers_honouring_retry_after_capped():
    recorder = Recorder(
        error_answer(429, "rate_limit_exceeded", "slow down", {"Retry-After": "30"}),
        error_answer(503, "service_unavailable", "down"),
        json_answer(200, [ORDER]),
    )
    client, waits = make_client(recorder, read_retries=2)

    orders = client.list_orders(exchange="polymarket", customer_id=CUSTOMER, status="all", limit=10)

    assert [order.id for order in orders] == ["order_abc123"]
    assert len(recorder.requests) == 3
    assert waits == [2.0, 0.4]  # Retry-After capped at 2 s, then the backoff's second step


def test_reads_give_up_after_the_configured_retries():
    recorder = Recorder(error_answer(503, "service_unavailable", "down"))
    client, waits = make_client(recorder, read_retries=2)

    with pytest.raises(ParsecUnavailable):
        client.list_fills(exchange="kalshi", customer_id=CUSTOMER)
    assert len(recorder.requests) == 3
    assert len(waits) == 2


def test_reads_do_not_retry_a_rejection():
    recorder = Recorder(error_answer(404, "order_not_found", "order not found"))
    client, waits = make_client(recorder)

    with pytest.raises(ParsecRejected):
        client.get_order(exchange="kalshi", customer_id=CUSTOMER, order_id="order_1")
    assert len(recorder.requests) == 1
    assert waits == []


# --- Secrets -------------------------------------------------------------------------------------------


def test_error_texts_and_reprs_carry_no_key_or_signature():
    echoed = f"bad signature {SIGNATURE} for key {API_KEY}"
    client, _ = make_client(Recorder(error_answer(400, "bad_request", echoed)))

    with pytest.raises(ParsecRejected) as caught:
        create(client)

    for text in (str(caught.value), repr(caught.value), caught.value.message, repr(client)):
        assert API_KEY not in text
        assert SIGNATURE[2:40] not in text


def test_errors_survive_pickling_with_their_fields():
    errors = [
        ParsecRejected(status=400, code="bad_request", message="no"),
        ParsecUnavailable(status=429, code="rate_limit_exceeded", message="slow", retry_after=2.0),
        ParsecInDoubt("lost"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, as Celery does
        assert type(copy) is type(error)
        assert vars(copy) == vars(error)


POLYMARKET_MARKET = "0x" + "5c" * 32  # a condition id: 0x + 64 hex, like an escrow order id
ESCROW_ORDER_ID = "0x" + "e1" * 32
ADDRESS = "0x" + "a4" * 20


def test_error_texts_keep_market_ids_escrow_ids_and_addresses_and_drop_secrets_by_what_they_are():
    private_key = "0x" + "9f" * 32  # the same shape as a market id: only its name gives it away
    echoed = (
        f"market {POLYMARKET_MARKET} rejected fee_auth.order_id {ESCROW_ORDER_ID} for payer {ADDRESS}: "
        f"signature {SIGNATURE} is invalid; X-API-Key: {API_KEY}; partner key bp_{'Q' * 40}; "
        f'"private_key": "{private_key}"; Authorization: Bearer eyJhbGciOi.payload.sig; '
        "clob_api_secret=s3cr3t-value"
    )
    client, _ = make_client(Recorder(error_answer(400, "bad_request", echoed)))

    with pytest.raises(ParsecRejected) as caught:
        create(client)

    text = caught.value.message
    for kept in (POLYMARKET_MARKET, ESCROW_ORDER_ID, ADDRESS):
        assert kept in text
    for secret in (SIGNATURE[2:40], API_KEY, "Q" * 40, private_key, "eyJhbGciOi", "s3cr3t-value"):
        assert secret not in text
    assert "[redacted]" in text


MARKET = {
    "parsec_id": "polymarket:" + POLYMARKET_MARKET,
    "exchange": "polymarket",
    "exchange_market_id": POLYMARKET_MARKET,
    "question": "Will it rain?",
    "status": "active",
    "outcomes": [{"name": "Yes", "price": 0.82}, {"name": "No", "price": 0.18}],
    "tick_size": 0.01,
    "min_order_size": 5,
}


def test_list_markets_filters_with_parsecs_comma_separated_exchanges_list():
    page = {
        "markets": [MARKET],
        "pagination": {"count": 1, "has_more": True, "total": 9, "next_cursor": "c2"},
    }
    recorder = Recorder(json_answer(200, page))
    client, _ = make_client(recorder)

    listed = client.list_markets(exchanges=["polymarket", "kalshi"], limit=1)

    query = recorder.requests[0].url.params
    assert query["exchanges"] == "polymarket,kalshi"
    assert "exchange" not in query
    assert listed.next_cursor == "c2"
    [market] = listed.markets
    assert market.market_id == POLYMARKET_MARKET
    assert market.price == Decimal("0.82")
    assert dict(market.outcome_prices) == {"Yes": Decimal("0.82"), "No": Decimal("0.18")}
    assert (market.tick_size, market.min_order_size) == (Decimal("0.01"), 5)


def test_get_market_asks_for_one_market_by_exchange_and_exchange_market_id():
    recorder = Recorder(
        json_answer(200, {"markets": [MARKET], "pagination": {"count": 1}, "scope": "market"}),
        error_answer(404, "market_not_found", "market NOPE was not found on kalshi"),
    )
    client, _ = make_client(recorder)

    found = client.get_market(exchange="polymarket", market_id=POLYMARKET_MARKET)
    missing = client.get_market(exchange="kalshi", market_id="NOPE")

    assert dict(recorder.requests[0].url.params) == {
        "scope": "market",
        "exchange": "polymarket",
        "exchange_market_id": POLYMARKET_MARKET,
    }
    assert found is not None
    assert (found.exchange, found.market_id, found.outcomes) == (
        "polymarket",
        POLYMARKET_MARKET,
        ("Yes", "No"),
    )
    assert missing is None
