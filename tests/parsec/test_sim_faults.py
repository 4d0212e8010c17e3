"""Simulated faults reach the real client over HTTP and are classified as a caller must treat them."""

import time
from decimal import Decimal

import pytest
from django.test import RequestFactory

from parsec.client import ParsecInDoubt, ParsecRejected, ParsecUnavailable
from parsec.sim import faults
from parsec.sim.models import SimOrder


@pytest.fixture
def trader(parsec_sim):
    customer_id = parsec_sim.create_builder_user(external_id="fault-trader").customer_id
    market_id = parsec_sim.list_markets(exchanges=["kalshi"], limit=1).markets[0].market_id
    body = {
        "market_id": market_id,
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.01"),
        "size": Decimal(3),
    }
    return {"customer_id": customer_id, "body": body}


def create(client, trader):
    return client.create_order(exchange="kalshi", customer_id=trader["customer_id"], body=trader["body"])


def listed(parsec_sim, trader):
    return parsec_sim.list_orders(exchange="kalshi", customer_id=trader["customer_id"], status="all")


def test_a_503_before_apply_is_unavailable_and_places_nothing(parsec_sim, faulty_client, trader):
    client, transport = faulty_client("error-503")

    with pytest.raises(ParsecUnavailable) as caught:
        create(client, trader)

    assert caught.value.status == 503
    assert transport.requests == 1  # a create is never retried
    assert listed(parsec_sim, trader) == []


def test_a_500_to_a_create_is_in_doubt_even_though_the_simulator_placed_nothing(
    parsec_sim, faulty_client, trader
):
    client, transport = faulty_client("error-500")

    with pytest.raises(ParsecInDoubt):
        create(client, trader)

    assert transport.requests == 1
    # The simulator's 500 strikes before apply, but a client cannot know that: listing tells.
    assert listed(parsec_sim, trader) == []


def test_a_rate_limit_is_unavailable_with_retry_after_and_places_nothing(parsec_sim, faulty_client, trader):
    client, _ = faulty_client("rate-limit")

    with pytest.raises(ParsecUnavailable) as caught:
        create(client, trader)

    assert (caught.value.status, caught.value.code) == (429, "rate_limit_exceeded")
    assert caught.value.retry_after == 1.0
    assert listed(parsec_sim, trader) == []


def test_a_timeout_before_apply_is_in_doubt_and_places_nothing(parsec_sim, faulty_client, trader):
    client, _ = faulty_client("timeout-before-apply")

    with pytest.raises(ParsecInDoubt):
        create(client, trader)

    assert listed(parsec_sim, trader) == []
    assert not SimOrder.objects.exists()


def test_apply_then_drop_is_in_doubt_but_the_order_exists(parsec_sim, faulty_client, trader):
    client, _ = faulty_client("apply-then-drop")

    with pytest.raises(ParsecInDoubt) as caught:
        create(client, trader)

    # The connection is cut, not held: the client hears a disconnect, not its own read timeout.
    assert "Timeout" not in str(caught.value)
    assert "RemoteProtocolError" in str(caught.value) or "ReadError" in str(caught.value)
    [order] = listed(parsec_sim, trader)
    assert (order.size, order.price, order.status) == (Decimal(3), Decimal("0.01"), "open")


def test_apply_then_drop_on_a_cancel_cancels(parsec_sim, faulty_client, trader):
    order = create(parsec_sim, trader)
    client, _ = faulty_client("apply-then-drop")

    with pytest.raises(ParsecInDoubt):
        client.cancel_order(exchange="kalshi", customer_id=trader["customer_id"], order_id=order.id)

    assert listed(parsec_sim, trader)[0].status == "cancelled"


def test_latency_delays_the_answer_but_applies(parsec_sim, faulty_client, trader, settings):
    settings.PARSEC_SIM_LATENCY_SECONDS = 0.3
    client, _ = faulty_client("latency")
    started = time.monotonic()

    order = create(client, trader)

    assert time.monotonic() - started >= 0.3
    assert [listed_order.id for listed_order in listed(parsec_sim, trader)] == [order.id]


def test_a_read_retries_past_a_passing_outage(parsec_sim, faulty_client, trader):
    client, transport = faulty_client("error-503", times=1)

    orders = client.list_orders(exchange="kalshi", customer_id=trader["customer_id"])

    assert orders == []
    assert transport.requests == 2


def test_configured_fault_rates_strike_without_a_header(parsec_sim, settings, trader):
    settings.PARSEC_SIM_FAULT_RATES = {"error-503": 1.0}

    with pytest.raises(ParsecUnavailable):
        create(parsec_sim, trader)

    settings.PARSEC_SIM_FAULT_RATES = {}
    assert listed(parsec_sim, trader) == []


def test_an_unknown_fault_name_is_a_bad_request(parsec_sim, faulty_client, trader):
    client, _ = faulty_client("meteor-strike")

    with pytest.raises(ParsecRejected) as caught:
        create(client, trader)

    assert caught.value.status == 400
    assert "X-Sim-Fault must be one of" in caught.value.message


def test_the_simulator_answers_nothing_while_switched_off(parsec_sim, faulty_client, trader, settings):
    client, _ = faulty_client("apply-then-drop")
    settings.PARSEC_SIMULATOR = False

    with pytest.raises(ParsecRejected) as caught:
        create(client, trader)

    assert caught.value.status == 404
    assert not SimOrder.objects.exists()


def test_random_faults_replay_identically_for_a_seed(settings):
    settings.PARSEC_SIM_FAULT_RATES = {"error-503": 0.2, "rate-limit": 0.1, "apply-then-drop": 0.05}
    request = RequestFactory().get("/sim/api/v1/exchanges")

    def sequence(seed):
        settings.PARSEC_SIM_SEED = seed
        faults._rng = None
        return [faults.choose_fault(request) for _ in range(200)]

    first, again, other = sequence(11), sequence(11), sequence(12)

    assert first == again
    assert first != other
    assert 20 <= first.count("error-503") <= 60  # about 20% of 200
    assert None in first
