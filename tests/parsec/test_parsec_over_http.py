"""The contract suite: the real client over real HTTP against the simulator, or a real Parsec.

Assertions on Parsec's documented behaviour run on both targets; the simulator's own sentences and
fixed configuration are checked only on the simulator.
"""

import time
import uuid
from decimal import Decimal

import httpx
import pytest
from eth_account import Account

from parsec.client import ParsecRejected
from parsec.contract import EXCHANGES, is_checksum_address
from parsec.sim.escrow import safe_address_for
from parsec.sim.services import sim_builder_ensure

pytestmark = pytest.mark.django_db(transaction=True)


# --- Exchanges and markets -----------------------------------------------------------------------------


def test_it_lists_every_exchange_with_its_capability_flags(parsec_target):
    exchanges = {exchange.id: exchange for exchange in parsec_target.client.list_exchanges()}

    assert set(EXCHANGES) <= set(exchanges)
    assert exchanges["polymarket"].has["create_order"] is True
    assert exchanges["kalshi"].has["create_order"] is True
    if parsec_target.is_sim:
        for data_only in ("limitless", "opinion", "predictfun"):
            assert exchanges[data_only].has["create_order"] is False
            assert exchanges[data_only].has["fetch_markets"] is True


def test_it_lists_markets_of_one_exchange_page_by_page(parsec_target):
    first = parsec_target.client.list_markets(exchanges=["kalshi"], limit=2)

    assert 0 < len(first.markets) <= 2
    assert {market.exchange for market in first.markets} == {"kalshi"}
    for market in first.markets:
        assert market.price is None or Decimal(0) < market.price < Decimal(1)
    if parsec_target.is_sim:
        assert first.next_cursor is not None
    if first.next_cursor:
        second = parsec_target.client.list_markets(exchanges=["kalshi"], limit=2, cursor=first.next_cursor)
        assert {m.market_id for m in second.markets}.isdisjoint({m.market_id for m in first.markets})


def test_market_search_finds_a_market_by_a_word_of_its_question(parsec_target):
    market = parsec_target.client.list_markets(exchanges=["polymarket"], limit=5).markets[0]
    word = max(market.question.split(), key=len).strip("?$,")

    found = parsec_target.client.list_markets(exchanges=["polymarket"], search=word, limit=50)

    assert market.market_id in {m.market_id for m in found.markets}


# --- Builder users, onboarding, escrow config ----------------------------------------------------------


def test_creating_a_builder_user_is_idempotent_on_its_external_id(parsec_target):
    external_id = f"test-{uuid.uuid4().hex}"

    first = parsec_target.client.create_builder_user(external_id=external_id, email="someone@example.com")
    again = parsec_target.client.create_builder_user(external_id=external_id)
    read = parsec_target.client.get_builder_user(first.customer_id)

    assert (first.created, again.created) == (True, False)
    assert again.customer_id == first.customer_id
    assert (read.customer_id, read.external_id) == (first.customer_id, external_id)
    assert uuid.UUID(first.customer_id)


def test_onboarding_a_managed_safe_answers_the_same_safe_every_time(parsec_target):
    customer_id = parsec_target.new_customer()
    eoa = Account.create().address

    first = parsec_target.client.onboard(customer_id=customer_id, exchange="polymarket", eoa_address=eoa)
    again = parsec_target.client.onboard(customer_id=customer_id, exchange="polymarket", eoa_address=eoa)

    assert first.eoa_address == eoa
    assert is_checksum_address(first.safe_address)
    assert again.safe_address == first.safe_address
    assert "polymarket" in again.linked_exchanges
    assert first.steps_completed
    assert parsec_target.client.get_builder_user(customer_id).linked_exchanges == again.linked_exchanges
    if parsec_target.is_sim:
        assert first.safe_address == safe_address_for(eoa)


def test_the_escrow_config_names_the_contract_and_the_fee(parsec_target):
    config = parsec_target.client.get_escrow_config()

    assert is_checksum_address(config.escrow_contract_address)
    assert config.fee_bps >= 0
    assert config.min_fee_usdc >= 0
    if parsec_target.is_sim:
        assert (config.fee_escrow_enabled, config.fee_bps, config.min_fee_bps) == (True, 25, 1)
        assert (config.min_fee_usdc, config.affiliate_fee_bps) == (10_000, 5000)
        assert config.escrow_contract_address == "0x39F35887e583ed7d6eFf6fa472359371145ba549"


# --- Validation, end to end ----------------------------------------------------------------------------


def _order(market_id, **changes):
    body = {
        "market_id": market_id,
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.01"),
        "size": Decimal(5),
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.mark.parametrize(
    ("exchange", "changes", "status", "code", "sentence"),
    [
        ("kalshi", {"outcome": None}, 400, "missing_parameter", "outcome is required"),
        ("kalshi", {"price": Decimal(1)}, 400, "bad_request", "price must be strictly between 0 and 1"),
        ("kalshi", {"size": Decimal(0)}, 400, "bad_request", "size must be greater than 0"),
        (
            "kalshi",
            {"params": {"order_type": "gtd", "expiration": "9999999999"}},
            501,
            "not_supported",
            "gtd",
        ),
        ("limitless", {"params": {"order_type": "ioc"}}, 501, "not_supported", "ioc"),
        ("limitless", {}, 501, "not_supported", "data-only"),
        ("opinion", {}, 501, "not_supported", "data-only"),
    ],
)
def test_an_order_parsec_would_refuse_is_rejected_with_its_status(
    parsec_target, exchange, changes, status, code, sentence
):
    customer_id = parsec_target.new_customer()
    body = _order(parsec_target.market_id(exchange), **changes)

    with pytest.raises(ParsecRejected) as caught:
        parsec_target.client.create_order(exchange=exchange, customer_id=customer_id, body=body)

    assert caught.value.status == status
    if parsec_target.is_sim:
        assert caught.value.code == code
        assert sentence in caught.value.message


def test_an_order_on_an_unknown_market_is_not_found(parsec_target):
    customer_id = parsec_target.new_customer()

    with pytest.raises(ParsecRejected) as caught:
        parsec_target.client.create_order(
            exchange="kalshi", customer_id=customer_id, body=_order("NO-SUCH-MARKET-123")
        )

    assert caught.value.status == 404
    assert caught.value.code == "market_not_found"


# --- Keys and impersonation ----------------------------------------------------------------------------


def test_an_unknown_key_is_unauthorized(parsec_target):
    customer_id = parsec_target.new_customer()
    with parsec_target.client_with_key("pk_sim_not_a_real_key_000000") as stranger:
        with pytest.raises(ParsecRejected) as on_orders:
            stranger.list_orders(exchange="kalshi", customer_id=customer_id)
        with pytest.raises(ParsecRejected) as on_escrow:
            stranger.get_escrow_config()

    assert (on_orders.value.status, on_orders.value.code) == (401, "unauthorized")
    assert on_escrow.value.status == 401


def test_a_builder_users_own_key_cannot_impersonate(parsec_target):
    answer = httpx.post(
        f"{parsec_target.base_url}/builder/users",
        headers={"X-API-Key": parsec_target.api_key},
        json={"external_id": f"test-{uuid.uuid4().hex}"},
        timeout=10,
    )
    assert answer.status_code == 201
    user_key = answer.json()["api_key"]
    other_customer = parsec_target.new_customer()

    with parsec_target.client_with_key(user_key) as user_client:
        with pytest.raises(ParsecRejected) as caught:
            user_client.list_orders(exchange="kalshi", customer_id=other_customer)
        own_orders = (
            user_client.list_orders(exchange="kalshi", customer_id=None) if parsec_target.is_sim else []
        )

    assert caught.value.status == 403
    assert "X-Builder-Customer-Id requires a builder account" in caught.value.message
    assert own_orders == []


def test_an_unknown_customer_id_is_forbidden(parsec_target):
    with pytest.raises(ParsecRejected) as caught:
        parsec_target.client.list_orders(exchange="kalshi", customer_id=str(uuid.uuid4()))

    assert caught.value.status == 403
    assert "end-user not found or not owned by this builder" in caught.value.message


def test_another_builders_customer_is_forbidden(parsec_sim, settings):
    other_key = "pk_sim_second_builder_key_0001"
    sim_builder_ensure(api_key=other_key, name="Second builder")
    with httpx.Client(base_url=settings.PARSEC_BASE_URL, headers={"X-API-Key": other_key}) as other:
        foreign = other.post("/builder/users", json={"external_id": "theirs"}).json()["customer_id"]

    with pytest.raises(ParsecRejected) as caught:
        parsec_sim.list_orders(exchange="kalshi", customer_id=foreign)
    with pytest.raises(ParsecRejected) as on_detail:
        parsec_sim.get_builder_user(foreign)

    assert caught.value.status == 403
    assert "end-user not found or not owned by this builder" in caught.value.message
    assert on_detail.value.status == 404


# --- A resting order's life ----------------------------------------------------------------------------


def test_a_resting_order_is_listed_read_and_cancelled(parsec_target):
    client = parsec_target.client
    customer_id = parsec_target.new_customer()
    client.onboard(customer_id=customer_id, exchange="kalshi", eoa_address=Account.create().address)
    market_id = parsec_target.market_id("kalshi")
    before = int(time.time()) - 1

    placed = client.create_order(
        exchange="kalshi", customer_id=customer_id, body=_order(market_id, size=Decimal(1))
    )
    listed = client.list_orders(
        exchange="kalshi", customer_id=customer_id, market_id=market_id, start_ts=before
    )
    read = client.get_order(exchange="kalshi", customer_id=customer_id, order_id=placed.id)
    cancelled = client.cancel_order(exchange="kalshi", customer_id=customer_id, order_id=placed.id)

    assert placed.status in ("pending", "open")
    assert (placed.price, placed.size, placed.filled) == (Decimal("0.01"), Decimal(1), Decimal(0))
    assert placed.id in {order.id for order in listed}
    assert read.id == placed.id
    assert cancelled.status == "cancelled"
    assert placed.id not in {o.id for o in client.list_orders(exchange="kalshi", customer_id=customer_id)}
    closed = client.list_orders(exchange="kalshi", customer_id=customer_id, status="closed")
    assert placed.id in {order.id for order in closed}
