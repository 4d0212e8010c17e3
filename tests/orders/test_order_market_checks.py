"""Intake checks an order against its market, as Parsec would later: fail fast, before anything is stored."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from orders_support import KALSHI_MARKET, order_body, polymarket_market

from orders.exchanges import market_cache_key
from orders.models import IdempotencyKey, Order
from parsec import conf
from parsec.client import ParsecRejected, ParsecUnavailable, decode_json

# The Pope market: a 0.001 tick and a minimum of 15 shares.
POPE_QUESTION = "Will a new Pope be named from outside Europe?"


def pope_market() -> str:
    from parsec.sim.catalogue import MARKET_SEEDS

    return next(seed.market_id for seed in MARKET_SEEDS if seed.question == POPE_QUESTION)


def refusal(response) -> tuple[int, str, set[str]]:
    body = decode_json(response.content)
    return response.status_code, body["code"], set(body.get("fields", {}))


class ParsecWithoutTheMarket:
    """Parsec's one-market lookup answering 404 market_not_found (the client's None)."""

    lookups = 0

    def get_market(self, *, exchange: str, market_id: str):
        ParsecWithoutTheMarket.lookups += 1


def test_an_unknown_market_is_404_market_not_found_and_nothing_is_stored(trader, enqueued, monkeypatch):
    monkeypatch.setattr(conf, "get_client", ParsecWithoutTheMarket)
    ParsecWithoutTheMarket.lookups = 0

    response = trader.post_order(order_body("KXNOPE-00"))
    again = trader.post_order(order_body("KXNOPE-00"))

    assert refusal(response) == (404, "market_not_found", {"market_id"})
    assert "KXNOPE-00" in decode_json(response.content)["error"]
    assert refusal(again) == (404, "market_not_found", {"market_id"})
    assert ParsecWithoutTheMarket.lookups == 1  # the miss is cached too
    assert not Order.objects.exists()


@pytest.mark.parametrize("outcome", ["Maybe", "yes", "YES", "No "])
def test_an_outcome_the_market_does_not_have_is_refused_naming_the_field(trader, enqueued, outcome):
    response = trader.post_order(order_body(outcome=outcome))

    assert refusal(response) == (400, "bad_request", {"outcome"})
    assert "Yes, No" in decode_json(response.content)["error"]
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("exchange", "market", "price", "size", "field"),
    [
        ("kalshi", KALSHI_MARKET, "0.015", "10", "price"),  # off the 0.01 tick
        ("kalshi", KALSHI_MARKET, "0.55", "2.5", "size"),  # Kalshi trades whole contracts
        ("polymarket", polymarket_market(), "0.555", "10", "price"),
        ("polymarket", polymarket_market(), "0.55", "4.99", "size"),  # below its minimum of 5
        ("polymarket", pope_market(), "0.5555", "20", "price"),  # finer than its 0.001 tick
        ("polymarket", pope_market(), "0.555", "10", "size"),  # below its minimum of 15
    ],
)
def test_a_price_off_tick_or_a_size_the_market_refuses_is_a_400_naming_the_field(
    trader, enqueued, exchange, market, price, size, field
):
    response = trader.post_order(
        order_body(market, price=Decimal(price), size=Decimal(size)), exchange=exchange
    )

    assert refusal(response) == (400, "bad_request", {field})
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("exchange", "market", "price", "size"),
    [
        ("kalshi", KALSHI_MARKET, "0.55", "3"),
        ("polymarket", pope_market(), "0.555", "15"),  # on its finer tick, at its minimum
        ("polymarket", polymarket_market(), "0.55", "5.5"),  # Polymarket shares may be fractional
    ],
)
def test_an_order_that_fits_its_market_is_accepted(trader, enqueued, exchange, market, price, size):
    store_escrow_config()  # a Polymarket order carries the builder fee
    response = trader.post_order(
        order_body(market, price=Decimal(price), size=Decimal(size)), exchange=exchange
    )

    assert response.status_code == 201, response.content
    assert Order.objects.get().market_id == market


def store_escrow_config() -> None:
    from django.utils import timezone

    from fees.services import escrow_config_store
    from parsec.client import EscrowConfig

    config = EscrowConfig(
        fee_escrow_enabled=True,
        fee_bps=25,
        affiliate_address=None,
        escrow_contract_address="0x39F35887e583ed7d6eFf6fa472359371145ba549",
        min_fee_usdc=10_000,
        min_fee_bps=1,
        treasury_address="0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e",
        affiliate_fee_bps=5000,
    )
    escrow_config_store(config=config, now=timezone.now())


class UnreachableParsec:
    failure: Exception = ParsecUnavailable(status=None, code="connection_failed", message="could not connect")

    def get_market(self, *, exchange: str, market_id: str):
        raise self.failure


@pytest.mark.parametrize(
    "failure",
    [
        ParsecUnavailable(status=None, code="connection_failed", message="could not connect"),
        ParsecUnavailable(status=429, code="rate_limit_exceeded", message="slow down", retry_after=1.0),
        # Our own builder key refused: not the partner's market's fault, and not a "no such market".
        ParsecRejected(status=401, code="unauthorized", message="missing or invalid API key"),
    ],
)
def test_a_market_that_cannot_be_looked_up_is_a_503_not_a_guess(trader, enqueued, monkeypatch, failure):
    cache.delete(market_cache_key(exchange="kalshi", market_id=KALSHI_MARKET))
    monkeypatch.setattr(UnreachableParsec, "failure", failure)
    monkeypatch.setattr(conf, "get_client", UnreachableParsec)

    response = trader.post_order(order_body(), key="market-lookup-down")

    assert refusal(response)[:2] == (503, "service_unavailable")
    assert not Order.objects.exists()
    # Not a final answer: the same request may succeed once Parsec answers again.
    assert not IdempotencyKey.objects.filter(key="market-lookup-down", response_status=503).exists()


@pytest.mark.django_db(transaction=True)
def test_intake_reads_the_market_from_the_simulator_over_http_and_caches_it(sim_trader, enqueued):
    cache.delete(market_cache_key(exchange="kalshi", market_id=KALSHI_MARKET))
    cache.delete(market_cache_key(exchange="kalshi", market_id="KXNOPE-00"))

    accepted = sim_trader.post_order(order_body(size=Decimal(2)))
    unknown = sim_trader.post_order(order_body("KXNOPE-00"))
    fractional = sim_trader.post_order(order_body(size=Decimal("2.5")))

    assert accepted.status_code == 201, accepted.content
    assert refusal(unknown) == (404, "market_not_found", {"market_id"})
    assert refusal(fractional) == (400, "bad_request", {"size"})
    cached = cache.get(market_cache_key(exchange="kalshi", market_id=KALSHI_MARKET))["market"]
    assert (cached["tick_size"], cached["min_order_size"]) == (Decimal("0.01"), 1)
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_markets_pages_carry_tick_size_minimum_and_each_outcomes_price(parsec_sim):
    from orders.exchanges import market_get, markets_page

    page = markets_page(exchange="kalshi", search=None, cursor=None, limit=None)
    one = market_get(exchange="polymarket", market_id=pope_market())

    assert {market["exchange"] for market in page["markets"]} == {"kalshi"}
    for market in page["markets"]:
        assert (market["tick_size"], market["min_order_size"]) == (Decimal("0.01"), 1)
        prices = market["outcome_prices"]
        assert set(prices) == {"Yes", "No"}
        assert prices["Yes"] == market["price"]
        assert prices["Yes"] + prices["No"] == 1
    assert one is not None
    assert (one["market_id"], one["tick_size"], one["min_order_size"]) == (
        pope_market(),
        Decimal("0.001"),
        15,
    )


def test_a_stale_market_is_refreshed_by_one_caller_and_kept_while_parsec_is_down(
    trader, enqueued, monkeypatch
):
    from orders.exchanges import market_get

    key = market_cache_key(exchange="kalshi", market_id=KALSHI_MARKET)
    market = cache.get(key)["market"]
    cache.set(key, {"market": market, "fresh_until": 0}, 60)  # stale, still held
    monkeypatch.setattr(
        UnreachableParsec, "failure", ParsecUnavailable(status=503, code="down", message="down")
    )
    monkeypatch.setattr(conf, "get_client", UnreachableParsec)

    response = trader.post_order(order_body())

    assert response.status_code == 201, response.content  # the stale copy, not a 503
    # While another request holds the refresh, no call is made at all.
    cache.add(key + ":refreshing", True, timeout=30)
    monkeypatch.setattr(conf, "get_client", lambda: pytest.fail("Parsec was called during a refresh"))
    assert market_get(exchange="kalshi", market_id=KALSHI_MARKET) == market
