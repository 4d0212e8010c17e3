"""Inputs that used to answer 500 (or 503, or a cut-off 200) answer 400 in the error shape, naming it."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.cache import cache
from django.test import Client
from factories import make_api_key, make_customer, make_eth_account, make_partner, make_wallet
from rest_framework.test import APIClient
from task_messages import drop_order_tasks

from builder_platform.inputs import text_problem
from customers.models import Customer, Partner, Wallet
from orders.models import Order
from parsec.client import json_nesting_too_deep
from parsec.sim.catalogue import MARKET_SEEDS

KALSHI_MARKET = next(seed.market_id for seed in MARKET_SEEDS if seed.exchange == "kalshi")
DEEP_JSON = b"[" * 30_000 + b"]" * 30_000  # under the web's 64 KiB body limit


@pytest.fixture
def tradable(settings):
    """Parsec's /exchanges, as the simulator answers it, already cached: intake needs no HTTP."""
    from orders.exchanges import _EXCHANGES_CACHE_KEY
    from parsec.sim.catalogue import exchanges_json

    cache.set(_EXCHANGES_CACHE_KEY, [{**item, "order_types": ["gtc"]} for item in exchanges_json()], 3600)
    yield
    cache.clear()


def _active_customer(partner: Partner) -> Customer:
    signer = make_eth_account()
    customer = make_customer(
        partner=partner,
        external_id=f"wallet:{signer.address}",
        status=Customer.Status.ACTIVE,
        parsec_customer_id=f"parsec-{uuid.uuid4()}",
    )
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    make_wallet(customer=customer, address=make_eth_account().address, role=Wallet.Role.PAYER)
    return customer


@pytest.fixture
def partner_order_poster(db, tradable, monkeypatch):
    drop_order_tasks(monkeypatch)
    partner = make_partner()
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=make_api_key(partner=partner)[1])
    customer = _active_customer(partner)

    def post(body: bytes, **headers: str):
        return client.post(
            "/api/v1/orders?exchange=kalshi",
            data=body,
            content_type="application/json",
            HTTP_X_BUILDER_CUSTOMER_ID=headers.pop("customer_id", str(customer.pk)),
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            **headers,
        )

    return post


def _order_json(**overrides: object) -> bytes:
    body = {"market_id": KALSHI_MARKET, "outcome": "Yes", "side": "buy", "price": "@P", "size": 10}
    body.update(overrides)
    return json.dumps(body).replace('"@P"', "0.01").encode()


@pytest.fixture
def web_client(db, tradable, monkeypatch) -> Client:
    from web.session import SESSION_CUSTOMER_KEY

    drop_order_tasks(monkeypatch)
    partner = Partner.objects.create(name="Web (built-in)", is_builtin=True)
    client = Client()
    session = client.session
    session[SESSION_CUSTOMER_KEY] = str(_active_customer(partner).pk)
    session.save()
    return client


def test_the_text_rule_accepts_printable_text_and_refuses_nul_surrogates_controls_and_overlong_text():
    assert text_problem("Yes 日本語", max_length=100) is None
    assert text_problem("line one\nline two", max_length=100, multiline=True) is None
    for bad in ("a\x00b", "\ud800", "a\x1bb", "line one\nline two"):
        assert "printable characters only" in text_problem(bad, max_length=100)
    assert "at most 100 characters" in text_problem("x" * 101, max_length=100)


@pytest.mark.parametrize(
    ("field", "value", "sentence"),
    [
        ("market_id", "KX\x00FED", "printable characters only"),
        ("market_id", "\ud800", "printable characters only"),
        ("outcome", "Y\x00es", "printable characters only"),
        ("outcome", "\udfff", "printable characters only"),
        ("outcome", "Y" * 101, "at most 100 characters"),
        ("outcome", "Y" * 100_000, "at most 100 characters"),
    ],
)
def test_it_refuses_order_text_the_order_row_could_not_keep(partner_order_poster, field, value, sentence):
    response = partner_order_poster(_order_json(**{field: value}))

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bad_request"
    assert sentence in body["fields"][field]
    assert not Order.objects.exists()


def test_the_web_ticket_refuses_order_text_the_order_row_could_not_keep(web_client):
    for field, value in (("market_id", "KX\x00FED"), ("outcome", "\ud800"), ("outcome", "Y" * 101)):
        ticket = {
            "exchange": "kalshi",
            "market_id": KALSHI_MARKET,
            "outcome": "Yes",
            "side": "buy",
            "price": "0.01",
            "size": "10",
            field: value,
        }
        response = web_client.post("/app/orders", json.dumps(ticket), content_type="application/json")

        assert response.status_code == 400, (field, response.content)
        assert field in response.json()["fields"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("HTTP_X_BUILDER_CUSTOMER_ID", "a\x00b"),
        ("HTTP_X_BUILDER_CUSTOMER_ID", "c" * 65),
        ("HTTP_X_API_KEY", "bp_\x85"),
    ],
)
def test_it_names_the_header_that_carries_unprintable_or_overlong_text(partner_order_poster, header, value):
    if header == "HTTP_X_BUILDER_CUSTOMER_ID":
        response = partner_order_poster(_order_json(), customer_id=value)
    else:  # the poster's client sends a good key; this one sends only the bad one
        response = Client().post(
            "/api/v1/orders?exchange=kalshi",
            _order_json(),
            content_type="application/json",
            **{header: value},
        )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    name = {"HTTP_X_BUILDER_CUSTOMER_ID": "X-Builder-Customer-Id", "HTTP_X_API_KEY": "X-API-Key"}[header]
    assert list(body["fields"]) == [name]
    assert name in body["error"]


def test_a_nul_in_the_markets_search_is_a_400_naming_search_and_parsec_is_not_asked(
    partner_client, monkeypatch
):
    from parsec import conf

    monkeypatch.setattr(conf, "get_client", lambda: pytest.fail("Parsec must not be asked"))
    response = partner_client.get("/api/v1/markets?search=%00")

    assert response.status_code == 400
    assert "search" in response.json()["fields"]


def test_an_unknown_exchange_on_the_web_markets_list_is_a_400_naming_the_exchange(web_client, monkeypatch):
    from parsec import conf

    monkeypatch.setattr(conf, "get_client", lambda: pytest.fail("Parsec must not be asked"))
    response = web_client.get("/app/markets?exchange=nasdaq")

    assert response.status_code == 400
    assert response.json()["code"] == "exchange_not_found"
    assert "exchange" in response.json()["fields"]


def test_a_parsec_400_to_the_web_markets_list_is_a_400_with_parsecs_sentence(web_client, monkeypatch):
    from parsec import conf
    from parsec.client import ParsecRejected

    class RefusingParsec:
        def list_markets(self, **kwargs):
            raise ParsecRejected(status=400, code="bad_request", message="limit must be from 1 to 100")

        def list_exchanges(self):
            return []

    monkeypatch.setattr(conf, "get_client", RefusingParsec)
    cache.clear()
    response = web_client.get("/app/markets?exchange=kalshi")

    assert response.status_code == 400
    assert response.json() == {
        "error": "limit must be from 1 to 100",
        "code": "bad_request",
        "request_id": response["X-Request-Id"],
    }


@pytest.mark.parametrize("size", ["1e9999999", "1" + "0" * 30, "1e-999999", "NaN", "Infinity"])
def test_the_web_quote_refuses_sizes_no_order_could_have(web_client, size):
    response = web_client.get(f"/app/quote?exchange=polymarket&price=0.5&size={size}")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


@pytest.mark.parametrize("fmt", ["json", "csv"])
@pytest.mark.parametrize("day", ["9999-12-31", "1969-12-31"])
def test_the_fee_statement_refuses_dates_it_cannot_query_before_any_answer_starts(partner_client, fmt, day):
    response = partner_client.get(f"/api/v1/fees/statement?start={day}&end={day}&format={fmt}")

    assert response.status_code == 400
    assert not response.streaming
    assert set(response.json()["fields"]) == {"start"}


def test_the_fee_statement_csv_runs_its_first_query_before_the_stream_starts(partner_client, monkeypatch):
    from fees import selectors

    def failing_query(**kwargs):
        raise RuntimeError("the database refused the query")

    monkeypatch.setattr(selectors, "fee_statement_exchange_totals", failing_query)
    with pytest.raises(RuntimeError):
        # The test client re-raises the view's exception: it happened before a response existed.
        partner_client.get("/api/v1/fees/statement?start=2026-01-01&end=2026-01-31&format=csv")


def test_json_nested_too_deeply_is_a_400_everywhere_a_body_is_read(
    partner_client, partner_order_poster, web_client
):
    answers = [
        partner_client.post("/api/v1/customers", data=DEEP_JSON, content_type="application/json"),
        partner_order_poster(DEEP_JSON),
        web_client.post("/app/orders", DEEP_JSON, content_type="application/json"),
    ]

    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert all(answer.json()["code"] in ("malformed_request", "bad_request") for answer in answers)


def test_the_nesting_check_counts_only_brackets_outside_strings():
    assert json_nesting_too_deep(b"[" * 65 + b"]" * 65)
    assert not json_nesting_too_deep(b"[" * 64 + b"]" * 64)
    assert not json_nesting_too_deep(json.dumps({"text": "[" * 1000, "list": [[1], [2]] * 100}))
    assert json_nesting_too_deep(b"[1," * 70)  # unbalanced, still too deep to hand to the decoder


def test_a_huge_exponent_in_an_order_is_refused_without_writing_it_out(partner_order_poster):
    response = partner_order_poster(
        b'{"market_id": "KXFEDDECISION-26JAN-C25", "outcome": "Yes", "side": "buy", "price": 0.5, '
        b'"size": 1e999999999}'
    )

    assert response.status_code == 400
    assert "size" in response.json()["fields"]


def test_a_parsec_400_for_a_partners_mistake_reaches_the_partner_as_a_400_not_an_outage(
    parsec_sim, partner_client
):
    # The cursor goes to Parsec as it came; the simulator refuses it over HTTP, through the real client.
    response = partner_client.get("/api/v1/markets?exchange=kalshi&cursor=not-a-cursor")

    assert response.status_code == 400
    assert response.json() == {
        "error": "cursor is not one this API returned",
        "code": "bad_request",
        "request_id": response["X-Request-Id"],
    }
