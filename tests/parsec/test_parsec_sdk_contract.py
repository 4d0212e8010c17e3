"""The simulator answers Parsec's official Python SDK (parsec-api 0.17.0) as Parsec would.

The SDK is generated from Parsec's own OpenAPI, so nobody here wrote its idea of the contract. Every
response is validated against its models (`_strict_response_validation`): a missing field, a wrong type or
an unknown status fails the test. It talks to the simulator over HTTP, served by the live server.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import parsec_api
import pytest
from eth_account import Account
from parsec_api import ParsecAPI

from parsec.sim.catalogue import MARKET_SEEDS, price_bucket, reference_price

KALSHI_MARKET = "KXFEDDECISION-26JAN-C25"


@pytest.fixture
def sdk(parsec_sim, live_server, settings) -> Iterator[ParsecAPI]:
    # The SDK's paths start with /api/v1; the simulator's are under /sim.
    client = ParsecAPI(
        api_key=settings.PARSEC_SIMULATOR_API_KEY,
        base_url=live_server.url + "/sim",
        max_retries=0,  # a retried create could duplicate an order; nothing here should need a retry
        timeout=10,
        _strict_response_validation=True,
    )
    yield client
    client.close()


@pytest.fixture
def customer_id(sdk) -> str:
    return sdk.builder.users.create(external_id=f"sdk-{uuid.uuid4().hex}").customer_id


def acting_for(customer_id: str) -> dict[str, str]:
    return {"X-Builder-Customer-Id": customer_id}


def seeds(exchange: str) -> list[str]:
    return [seed.market_id for seed in MARKET_SEEDS if seed.exchange == exchange]


# --- Exchanges and markets ---------------------------------------------------------------------------


def test_the_sdk_reads_every_exchange_with_its_capabilities(sdk):
    exchanges = {exchange.id: exchange for exchange in sdk.exchanges.list()}

    assert set(exchanges) == {"polymarket", "kalshi", "limitless", "opinion", "predictfun"}
    assert exchanges["kalshi"].has.create_order is True
    assert exchanges["kalshi"].has.fetch_fills is True
    assert exchanges["limitless"].has.create_order is False
    assert exchanges["limitless"].has.fetch_markets is True
    assert exchanges["predictfun"].name == "Predict.fun"


def test_the_exchanges_filter_lists_only_the_markets_of_those_exchanges(sdk):
    kalshi = sdk.markets.list(exchanges=["kalshi"])
    both = sdk.markets.list(exchanges=["kalshi", "polymarket"])

    assert kalshi.scope == "list"
    assert [market.exchange_market_id for market in kalshi.markets] == seeds("kalshi")
    assert {market.exchange for market in kalshi.markets} == {"kalshi"}
    assert kalshi.pagination.count == kalshi.pagination.total == len(seeds("kalshi"))
    assert kalshi.pagination.has_more is False
    assert {market.exchange for market in both.markets} == {"kalshi", "polymarket"}
    assert len(both.markets) == len(seeds("kalshi")) + len(seeds("polymarket"))


def test_a_market_list_pages_with_parsecs_cursor(sdk):
    first = sdk.markets.list(exchanges=["polymarket"], limit=3)
    second = sdk.markets.list(exchanges=["polymarket"], limit=3, cursor=first.pagination.next_cursor)

    assert first.pagination.has_more is True
    assert first.pagination.total == len(seeds("polymarket"))
    ids = [market.exchange_market_id for market in first.markets + second.markets]
    assert ids == seeds("polymarket")
    assert second.pagination.next_cursor is None


def test_one_market_is_read_by_exchange_and_exchange_market_id_or_by_parsec_id(sdk):
    by_native_id = sdk.markets.list(exchange="kalshi", exchange_market_id=KALSHI_MARKET)
    by_parsec_id = sdk.markets.list(scope="market", parsec_id=f"kalshi:{KALSHI_MARKET}")

    for page in (by_native_id, by_parsec_id):
        assert page.scope == "market"
        [market] = page.markets
        assert (market.exchange, market.exchange_market_id) == ("kalshi", KALSHI_MARKET)
        assert market.parsec_id == f"kalshi:{KALSHI_MARKET}"


def test_a_binary_markets_no_is_priced_as_one_minus_yes(sdk):
    for market in sdk.markets.list(exchanges=["kalshi", "polymarket"]).markets:
        prices = {outcome.name: Decimal(str(outcome.price)) for outcome in market.outcomes}
        assert set(prices) == {"Yes", "No"}
        assert prices["Yes"] + prices["No"] == 1
        assert market.market_type == "binary"


def test_markets_carry_parsecs_tick_size_and_minimum_order_size(sdk):
    markets = {market.exchange_market_id: market for market in sdk.markets.list().markets}
    [fed, _, pope, _] = seeds("polymarket")

    assert (markets[KALSHI_MARKET].tick_size, markets[KALSHI_MARKET].min_order_size) == (0.01, 1)
    assert (markets[fed].tick_size, markets[fed].min_order_size) == (0.01, 5)
    assert (markets[pope].tick_size, markets[pope].min_order_size) == (0.001, 15)


def test_an_unknown_market_is_parsecs_404_market_not_found(sdk):
    with pytest.raises(parsec_api.NotFoundError) as caught:
        sdk.markets.list(exchange="kalshi", exchange_market_id="NO-SUCH-MARKET")

    assert caught.value.body == {
        "error": "market NO-SUCH-MARKET was not found on kalshi",
        "code": "market_not_found",
        "retryable": False,
    }


def test_exchange_alone_is_refused_rather_than_read_as_a_list_filter(sdk):
    with pytest.raises(parsec_api.BadRequestError) as caught:
        sdk.markets.list(exchange="kalshi")

    assert caught.value.body["code"] == "bad_request"
    assert "exchanges=" in caught.value.body["error"]


def test_an_unknown_exchange_in_the_filter_is_named(sdk):
    with pytest.raises(parsec_api.NotFoundError) as caught:
        sdk.markets.list(exchanges=["kalshi", "nasdaq"])

    assert caught.value.body["code"] == "exchange_not_found"
    assert "nasdaq" in caught.value.body["error"]


# --- Builder users, onboarding, escrow config --------------------------------------------------------


def test_the_sdk_creates_reads_updates_and_lists_builder_users(sdk):
    external_id = f"sdk-{uuid.uuid4().hex}"

    created = sdk.builder.users.with_raw_response.create(external_id=external_id, email="sdk@example.com")
    again = sdk.builder.users.with_raw_response.create(external_id=external_id)
    user = created.parse()
    read = sdk.builder.users.retrieve(user.customer_id)
    updated = sdk.builder.users.update(user.customer_id, qps_limit=5)
    listed = sdk.builder.users.list(limit=100)

    assert (created.status_code, again.status_code) == (201, 200)
    assert again.parse().customer_id == user.customer_id
    assert read.external_id == external_id
    assert read.api_key == user.api_key
    assert user.api_key.startswith("pk_sim_user_")
    assert read.wallet is None  # not onboarded yet
    assert updated.qps_limit == 5
    assert user.customer_id in {item.customer_id for item in listed.users}
    assert listed.count == len(listed.users)


def test_a_builder_users_key_shown_on_a_read_works(sdk, customer_id, live_server):
    key = sdk.builder.users.retrieve(customer_id).api_key
    with ParsecAPI(
        api_key=key, base_url=live_server.url + "/sim", max_retries=0, _strict_response_validation=True
    ) as own:
        assert own.orders.list(exchange="kalshi") == []


def test_the_sdk_onboards_a_managed_safe(sdk, customer_id):
    eoa = Account.create().address

    onboarded = sdk.builder.onboard.create(
        customer_id=customer_id, exchange="polymarket", mode="managed", wallet_type="safe", eoa_address=eoa
    )
    read = sdk.builder.users.retrieve(customer_id)

    assert onboarded.status == "complete"
    assert onboarded.eoa_address == eoa
    assert onboarded.safe_address is not None
    assert read.wallet is not None
    assert (read.wallet.eoa_address, read.wallet.safe_address) == (eoa, onboarded.safe_address)
    assert "polymarket" in read.linked_exchanges


def test_the_sdk_reads_the_escrow_config(sdk, settings):
    config = sdk.builder.escrow.config()

    assert config.escrow_contract_address == settings.PARSEC_SIM_ESCROW_CONTRACT_ADDRESS
    assert config.fee_bps == settings.PARSEC_SIM_FEE_BPS
    assert config.min_fee_usdc == str(settings.PARSEC_SIM_MIN_FEE_USDC)


# --- Orders and fills --------------------------------------------------------------------------------


def test_the_sdk_creates_reads_lists_and_cancels_an_order(sdk, customer_id):
    headers = acting_for(customer_id)

    order = sdk.orders.create(
        exchange="kalshi",
        market_id=KALSHI_MARKET,
        outcome="Yes",
        side="buy",
        price=0.01,
        size=3,
        extra_headers=headers,
    )
    read = sdk.orders.retrieve(order.id, exchange="kalshi", extra_headers=headers)
    listed = sdk.orders.list(exchange="kalshi", status="open", extra_headers=headers)
    cancelled = sdk.orders.cancel(order.id, exchange="kalshi", extra_headers=headers)
    closed = sdk.orders.list(
        exchange="kalshi", status="closed", market_id=KALSHI_MARKET, extra_headers=headers
    )

    assert (order.status, order.market_id, order.price, order.size, order.filled) == (
        "open",
        KALSHI_MARKET,
        0.01,
        3,
        0,
    )
    assert read.id == order.id
    assert [item.id for item in listed] == [order.id]
    assert cancelled.status == "cancelled"
    assert [item.id for item in closed] == [order.id]


def test_the_sdk_lists_the_fills_of_a_marketable_order(sdk, customer_id, settings):
    headers = acting_for(customer_id)
    order = sdk.orders.create(
        exchange="kalshi",
        market_id=KALSHI_MARKET,
        outcome="No",
        side="buy",
        price=0.99,
        size=1,
        extra_headers=headers,
    )

    fills = sdk.fills.list(exchange="kalshi", market_id=KALSHI_MARKET, extra_headers=headers)

    assert order.status == "filled"
    [fill] = fills
    assert (fill.order_id, fill.outcome, fill.side, fill.size, fill.is_taker) == (
        order.id,
        "No",
        "buy",
        1,
        True,
    )
    # The No book trades at 1 - Yes, Yes being the market's reference price when the fill happened.
    yes_price = reference_price(
        exchange="kalshi",
        market_id=KALSHI_MARKET,
        bucket=price_bucket(fill.created_at, settings.PARSEC_SIM_PRICE_BUCKET_SECONDS),
        seed=settings.PARSEC_SIM_SEED,
    )
    assert Decimal(str(fill.price)) == 1 - yes_price


@pytest.mark.parametrize(
    ("market_id", "outcome", "price", "size", "field"),
    [
        (KALSHI_MARKET, "Yes", 0.015, 1, "price"),  # off the 0.01 tick
        (KALSHI_MARKET, "Yes", 0.01, 2.5, "size"),  # Kalshi trades whole contracts
        (seeds("polymarket")[0], "Yes", 0.01, 4, "size"),  # below the market's minimum of 5
        (KALSHI_MARKET, "yes", 0.01, 1, "outcome"),  # outcome names are exact
    ],
)
def test_the_simulator_refuses_what_parsec_would_with_parsecs_400(
    sdk, customer_id, market_id, outcome, price, size, field
):
    exchange = "kalshi" if market_id == KALSHI_MARKET else "polymarket"
    with pytest.raises(parsec_api.BadRequestError) as caught:
        sdk.orders.create(
            exchange=exchange,
            market_id=market_id,
            outcome=outcome,
            side="buy",
            price=price,
            size=size,
            extra_headers=acting_for(customer_id),
        )

    assert set(caught.value.body) == {"error", "code", "retryable"}
    assert (caught.value.body["code"], caught.value.body["retryable"]) == ("bad_request", False)
    assert field in caught.value.body["error"]
    assert sdk.orders.list(exchange=exchange, status="all", extra_headers=acting_for(customer_id)) == []
