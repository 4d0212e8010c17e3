"""The simulator's matching: taker fills, chunked resting fills, ioc, fok, gtd expiry, cancels, listings."""

import itertools
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

import pytest
from django.utils import timezone

from parsec.client import ParsecRejected
from parsec.contract import validate_create_order
from parsec.sim.catalogue import MARKET_SEEDS, reference_price
from parsec.sim.models import SimBuilderUser, SimFill, SimOrder
from parsec.sim.services import sim_advance, sim_builder_ensure, sim_builder_user_create, sim_order_create


@pytest.fixture
def venue(parsec_sim, settings):
    """A customer and one market per tradable exchange; Polymarket without the fee so bodies stay short."""
    settings.PARSEC_SIM_FEE_ESCROW_ENABLED = False
    customer_id = parsec_sim.create_builder_user(external_id="trader").customer_id
    return {
        "client": parsec_sim,
        "customer_id": customer_id,
        "kalshi": parsec_sim.list_markets(exchanges=["kalshi"], limit=1).markets[0].market_id,
        "polymarket": parsec_sim.list_markets(exchanges=["polymarket"], limit=1).markets[0].market_id,
    }


def place(venue, exchange="kalshi", *, side="buy", price="0.99", size="10", **params):
    body = {
        "market_id": venue[exchange],
        "outcome": "Yes",
        "side": side,
        "price": Decimal(price),
        "size": Decimal(size),
    }
    if params:
        body["params"] = params
    return venue["client"].create_order(exchange=exchange, customer_id=venue["customer_id"], body=body)


def read(venue, order, exchange="kalshi"):
    return venue["client"].get_order(exchange=exchange, customer_id=venue["customer_id"], order_id=order.id)


def fills_of(venue, order, exchange="kalshi"):
    fills = venue["client"].list_fills(exchange=exchange, customer_id=venue["customer_id"])
    return sorted((fill for fill in fills if fill.order_id == order.id), key=lambda fill: fill.created_at)


# --- Taker fills ---------------------------------------------------------------------------------------


def test_a_marketable_buy_fills_at_once_as_taker_at_the_market_price(venue):
    order = place(venue, price="0.99", size="10")

    assert (order.status, order.filled) == ("filled", Decimal(10))
    [fill] = fills_of(venue, order)
    assert fill.is_taker is True
    assert Decimal("0.02") <= fill.price < Decimal("0.99")
    assert fill.size == Decimal(10)
    # The exchange fee on a taker fill: 10 bps of the notional, rounded up to a USDC base unit.
    assert fill.fee == (fill.price * 10 * 10 / Decimal(10_000)).quantize(Decimal("0.000001"), ROUND_CEILING)


def test_a_marketable_sell_fills_at_the_market_price(venue):
    order = place(venue, side="sell", price="0.01", size="5")

    [fill] = fills_of(venue, order)
    assert order.status == "filled"
    assert fill.price > Decimal("0.01")


def test_a_large_order_fills_partly_at_once_then_in_chunks_over_time(venue, await_condition):
    order = place(venue, price="0.99", size="1000")

    assert order.status == "partially_filled"
    assert Decimal(50) <= order.filled <= Decimal(150)  # the depth at the touch: 100 +/- 50%

    done = await_condition(lambda: (current := read(venue, order)).status == "filled" and current)

    assert done.filled == Decimal(1000)
    fills = fills_of(venue, order)
    assert fills[0].is_taker is True
    assert all(not fill.is_taker and fill.price == Decimal("0.99") for fill in fills[1:])
    assert len(fills) >= 3
    assert sum(fill.size for fill in fills) == Decimal(1000)
    assert len({fill.fill_id for fill in fills}) == len(fills)
    gaps = [later.created_at - earlier.created_at for earlier, later in itertools.pairwise(fills)]
    assert all(gap >= timedelta(seconds=0.25) for gap in gaps)


def test_an_order_away_from_the_market_rests_without_fills(venue):
    order = place(venue, price="0.01", size="10")
    customer = SimBuilderUser.objects.get(customer_id=venue["customer_id"])

    sim_advance(now=timezone.now() + timedelta(hours=2), customer=customer)

    assert order.status == "open"
    assert read(venue, order).status == "open"
    assert fills_of(venue, order) == []


# --- Time in force ----------------------------------------------------------------------------------------


def test_an_ioc_order_cancels_its_unfilled_rest_at_once(venue):
    order = place(venue, price="0.99", size="1000", order_type="ioc")

    assert order.status == "cancelled"
    assert Decimal(0) < order.filled < Decimal(1000)
    assert read(venue, order).filled == order.filled
    assert len(fills_of(venue, order)) == 1


def test_an_ioc_order_away_from_the_market_is_cancelled_unfilled(venue):
    order = place(venue, price="0.01", size="10", order_type="ioc")

    assert (order.status, order.filled) == ("cancelled", Decimal(0))


def test_a_fok_order_fills_completely_when_the_book_allows(venue):
    order = place(venue, "polymarket", price="0.99", size="10", order_type="fok")

    assert (order.status, order.filled) == ("filled", Decimal(10))


def test_a_fok_order_larger_than_the_book_is_cancelled_without_fills(venue):
    order = place(venue, "polymarket", price="0.99", size="1000", order_type="fok")

    assert (order.status, order.filled) == ("cancelled", Decimal(0))
    assert fills_of(venue, order, "polymarket") == []


def test_a_gtd_order_becomes_cancelled_at_its_expiration(venue):
    expiration = int(timezone.now().timestamp()) + 61
    order = place(venue, "polymarket", price="0.01", size="10", order_type="gtd", expiration=str(expiration))
    customer = SimBuilderUser.objects.get(customer_id=venue["customer_id"])
    assert order.status == "open"

    sim_advance(now=datetime.fromtimestamp(expiration + 1, tz=UTC), customer=customer)

    expired = read(venue, order, "polymarket")
    assert expired.status == "cancelled"
    assert expired.updated_at == datetime.fromtimestamp(expiration, tz=UTC)
    closed = venue["client"].list_orders(
        exchange="polymarket", customer_id=venue["customer_id"], status="closed"
    )
    assert order.id in {listed.id for listed in closed}


# --- Cancels ----------------------------------------------------------------------------------------------


def test_a_live_order_can_be_cancelled_once(venue):
    order = place(venue, price="0.01", size="10")

    cancelled = venue["client"].cancel_order(
        exchange="kalshi", customer_id=venue["customer_id"], order_id=order.id
    )
    with pytest.raises(ParsecRejected) as again:
        venue["client"].cancel_order(exchange="kalshi", customer_id=venue["customer_id"], order_id=order.id)

    assert cancelled.status == "cancelled"
    assert cancelled.updated_at is not None
    assert again.value.status == 400
    assert "already cancelled" in again.value.message


def test_a_filled_order_cannot_be_cancelled(venue):
    order = place(venue, price="0.99", size="5")

    with pytest.raises(ParsecRejected) as caught:
        venue["client"].cancel_order(exchange="kalshi", customer_id=venue["customer_id"], order_id=order.id)

    assert caught.value.status == 400
    assert "already filled" in caught.value.message
    assert read(venue, order).status == "filled"


def test_another_customers_order_is_not_found(venue):
    order = place(venue, price="0.01", size="10")
    neighbour = venue["client"].create_builder_user(external_id="neighbour").customer_id

    with pytest.raises(ParsecRejected) as on_read:
        venue["client"].get_order(exchange="kalshi", customer_id=neighbour, order_id=order.id)
    with pytest.raises(ParsecRejected) as on_cancel:
        venue["client"].cancel_order(exchange="kalshi", customer_id=neighbour, order_id=order.id)

    assert (on_read.value.status, on_read.value.code) == (404, "order_not_found")
    assert (on_cancel.value.status, on_cancel.value.code) == (404, "order_not_found")
    assert read(venue, order).status == "open"


# --- Listings --------------------------------------------------------------------------------------------


def test_order_listings_filter_by_status_market_time_and_limit(venue):
    client, customer_id = venue["client"], venue["customer_id"]
    resting = [place(venue, price="0.01", size="1") for _ in range(3)]
    filled = place(venue, price="0.99", size="1")
    other_market = [seed.market_id for seed in MARKET_SEEDS if seed.exchange == "kalshi"][1]

    open_orders = client.list_orders(exchange="kalshi", customer_id=customer_id)
    closed = client.list_orders(exchange="kalshi", customer_id=customer_id, status="closed")
    every = client.list_orders(exchange="kalshi", customer_id=customer_id, status="all")
    limited = client.list_orders(exchange="kalshi", customer_id=customer_id, status="all", limit=2)
    elsewhere = client.list_orders(exchange="kalshi", customer_id=customer_id, market_id=other_market)
    future = client.list_orders(
        exchange="kalshi",
        customer_id=customer_id,
        status="all",
        start_ts=int(timezone.now().timestamp()) + 60,
    )
    polymarket = client.list_orders(exchange="polymarket", customer_id=customer_id, status="all")

    assert {order.id for order in open_orders} == {order.id for order in resting}
    assert [order.id for order in closed] == [filled.id]
    assert len(every) == 4
    assert [order.id for order in limited] == [order.id for order in every[:2]]
    assert every[0].created_at >= every[-1].created_at  # newest first
    assert (elsewhere, future, polymarket) == ([], [], [])


def test_a_limit_outside_1_to_500_is_refused(venue):
    with pytest.raises(ParsecRejected) as caught:
        venue["client"].list_orders(exchange="kalshi", customer_id=venue["customer_id"], limit=501)

    assert caught.value.status == 400


def test_fills_are_listed_per_market_newest_first_up_to_the_limit(venue):
    for _ in range(3):
        place(venue, price="0.99", size="2")

    fills = venue["client"].list_fills(exchange="kalshi", customer_id=venue["customer_id"], limit=2)
    on_market = venue["client"].list_fills(
        exchange="kalshi", customer_id=venue["customer_id"], market_id=venue["kalshi"]
    )
    elsewhere = venue["client"].list_fills(
        exchange="kalshi", customer_id=venue["customer_id"], market_id="OTHER"
    )

    assert len(fills) == 2
    assert fills[0].created_at >= fills[1].created_at
    assert len(on_market) == 3
    assert elsewhere == []


# --- Determinism ------------------------------------------------------------------------------------------


def test_reference_prices_are_a_pure_bounded_function_of_market_bucket_and_seed():
    buckets = range(1_000, 1_400)
    prices = [reference_price(exchange="kalshi", market_id="KXGDP-26Q2-3", bucket=b, seed=7) for b in buckets]
    again = [reference_price(exchange="kalshi", market_id="KXGDP-26Q2-3", bucket=b, seed=7) for b in buckets]
    other_seed = [
        reference_price(exchange="kalshi", market_id="KXGDP-26Q2-3", bucket=b, seed=8) for b in buckets
    ]

    assert prices == again
    assert prices != other_seed
    assert len(set(prices)) > 5  # it moves
    assert all(Decimal("0.02") <= price <= Decimal("0.98") for price in prices)
    assert all(price == price.quantize(Decimal("0.01")) for price in prices)


def _fill_history(order: SimOrder) -> list[tuple]:
    return [
        (fill.size, fill.price, fill.is_taker, fill.created_at - order.created_at)
        for fill in SimFill.objects.filter(order=order).order_by("created_at")
    ]


@pytest.mark.django_db
def test_the_same_order_at_the_same_time_fills_the_same_way(settings):
    settings.PARSEC_SIM_FILL_INTERVAL_SECONDS = 1.0
    builder = sim_builder_ensure(api_key="pk_sim_determinism_builder", name="Determinism")
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    histories = []
    for name in ("first", "second"):
        customer, _, _ = sim_builder_user_create(builder=builder, external_id=name)
        request = validate_create_order(
            "kalshi",
            {
                "market_id": "KXGDP-26Q2-3",
                "outcome": "Yes",
                "side": "buy",
                "price": Decimal("0.99"),
                "size": 700,
            },
            now=int(now.timestamp()),
        )
        order = sim_order_create(customer=customer, order_request=request, now=now)
        sim_advance(now=now + timedelta(seconds=30), customer=customer)
        order.refresh_from_db()
        assert order.status == "filled"
        histories.append(_fill_history(order))

    assert histories[0] == histories[1]
    assert len(histories[0]) > 2


# --- The No book ---------------------------------------------------------------------------------------


def _moment_priced_at_least(market_id: str, cents: int, *, settings) -> tuple[datetime, Decimal]:
    """A moment at which the Kalshi market's Yes reference price is at least `cents`."""
    bucket_seconds = settings.PARSEC_SIM_PRICE_BUCKET_SECONDS
    start = int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) // bucket_seconds
    for bucket in range(start, start + 20_000):
        price = reference_price(
            exchange="kalshi", market_id=market_id, bucket=bucket, seed=settings.PARSEC_SIM_SEED
        )
        if price >= Decimal(cents) / 100:
            return datetime.fromtimestamp(bucket * bucket_seconds, tz=UTC), price
    raise AssertionError(f"no bucket at {cents} cents or more")


def _sim_order(customer, market_id: str, *, outcome: str, side: str, price: str, now: datetime) -> SimOrder:
    body = {"market_id": market_id, "outcome": outcome, "side": side, "price": Decimal(price), "size": 5}
    request = validate_create_order("kalshi", body, now=int(now.timestamp()))
    return sim_order_create(customer=customer, order_request=request, now=now)


@pytest.mark.django_db
def test_a_buy_of_no_fills_at_one_minus_the_yes_price(settings):
    market_id = "KXFEDDECISION-26JAN-C25"  # priced 0.66 to 0.86 under the default seed
    now, yes_price = _moment_priced_at_least(market_id, 70, settings=settings)
    builder = sim_builder_ensure(api_key="pk_sim_no_book_builder", name="No book")
    customer, _, _ = sim_builder_user_create(builder=builder, external_id="no-buyer")

    # With Yes at 0.70 or more, No trades at 0.30 or less: a buy of No at 0.50 is marketable, and a
    # buy of Yes at 0.50 is not.
    no_order = _sim_order(customer, market_id, outcome="No", side="buy", price="0.50", now=now)
    yes_order = _sim_order(customer, market_id, outcome="Yes", side="buy", price="0.50", now=now)

    assert no_order.status == "filled"
    [fill] = SimFill.objects.filter(order=no_order)
    assert fill.price == 1 - yes_price
    assert fill.is_taker is True
    assert yes_order.status == "open"
    assert not SimFill.objects.filter(order=yes_order).exists()


@pytest.mark.django_db
def test_a_resting_no_order_fills_only_when_the_no_price_reaches_it(settings):
    market_id = "KXFEDDECISION-26JAN-C25"  # priced 0.66 to 0.86 under the default seed
    now, yes_price = _moment_priced_at_least(market_id, 60, settings=settings)
    no_price = 1 - yes_price
    builder = sim_builder_ensure(api_key="pk_sim_no_book_builder", name="No book")
    customer, _, _ = sim_builder_user_create(builder=builder, external_id="no-seller")

    # A sell of No above the No price rests (at the Yes price it would have filled at once).
    resting = _sim_order(
        customer, market_id, outcome="No", side="sell", price=str(no_price + Decimal("0.05")), now=now
    )
    taking = _sim_order(
        customer, market_id, outcome="No", side="sell", price=str(no_price - Decimal("0.01")), now=now
    )

    assert resting.status == "open"
    assert taking.status == "filled"
    [fill] = SimFill.objects.filter(order=taking)
    assert fill.price == no_price
