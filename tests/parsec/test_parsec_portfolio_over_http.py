"""The contract suite for account and market data: positions, balance, fills, order book and execution price,
through the real client over HTTP against the simulator (and, with -m real_parsec, a real Parsec).

On a real Parsec only shapes and documented rules are checked, and nothing is traded; the simulator's
own figures (its starting balance, its book) are checked on the simulator only.
"""

from decimal import ROUND_CEILING, Decimal

import pytest

from parsec.client import ParsecRejected
from parsec.contract import balance_raw_for, usdc_base_units_owed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def frozen_prices(settings):
    # One price bucket for the whole test: the dry run, the book and the fill all see the same market.
    settings.PARSEC_SIM_PRICE_BUCKET_SECONDS = 10**9
    settings.PARSEC_SIM_FEE_ESCROW_ENABLED = False


def buy(target, customer_id, market_id, *, size="10", price="0.99", side="buy", outcome="Yes"):
    body = {
        "market_id": market_id,
        "outcome": outcome,
        "side": side,
        "price": Decimal(price),
        "size": Decimal(size),
    }
    return target.client.create_order(exchange="kalshi", customer_id=customer_id, body=body)


# --- Order book ----------------------------------------------------------------------------------------


def test_the_order_book_lists_bids_best_first_and_asks_best_first(parsec_target):
    market_id = parsec_target.market_id("kalshi")

    book = parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id, outcome="Yes", depth=10)

    assert (book.exchange, book.market_id, book.outcome) == ("kalshi", market_id, "Yes")
    assert len(book.bids) <= 10
    assert len(book.asks) <= 10
    assert [price for price, _ in book.bids] == sorted((price for price, _ in book.bids), reverse=True)
    assert [price for price, _ in book.asks] == sorted(price for price, _ in book.asks)
    for price, size in (*book.bids, *book.asks):
        assert Decimal(0) < price < Decimal(1)
        assert size > 0


def test_an_unknown_market_has_no_order_book(parsec_target):
    with pytest.raises(ParsecRejected) as refused:
        parsec_target.client.get_orderbook(exchange="kalshi", market_id="NO-SUCH-MARKET-42")

    assert refused.value.status == 404


def test_the_no_book_is_the_yes_book_seen_from_the_other_side(parsec_target, frozen_prices):
    market_id = parsec_target.market_id("kalshi")
    customer = parsec_target.new_customer()
    buy(parsec_target, customer, market_id, price="0.02", size="7")  # rests on Yes's bids
    buy(parsec_target, customer, market_id, price="0.03", size="4", outcome="No")  # rests on No's bids

    yes = parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id, outcome="Yes")
    no = parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id, outcome="No")

    assert no.bids == tuple((1 - price, size) for price, size in yes.asks)
    assert no.asks == tuple((1 - price, size) for price, size in yes.bids)
    assert (Decimal("0.02"), Decimal(7)) in yes.bids
    assert (Decimal("0.97"), Decimal(4)) in yes.asks  # No bought at 0.03 is Yes offered at 0.97


def test_a_resting_order_joins_the_book_and_leaves_it_when_cancelled(parsec_target, frozen_prices):
    if not parsec_target.is_sim:
        pytest.skip("places an order")
    market_id = parsec_target.market_id("kalshi")
    customer = parsec_target.new_customer()
    before = dict(parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id).bids)

    order = buy(parsec_target, customer, market_id, price="0.02", size="9")
    during = dict(parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id).bids)
    parsec_target.client.cancel_order(exchange="kalshi", customer_id=customer, order_id=order.id)
    after = dict(parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id).bids)

    assert during[Decimal("0.02")] == before.get(Decimal("0.02"), 0) + 9
    assert after.get(Decimal("0.02"), 0) == before.get(Decimal("0.02"), 0)


# --- Execution price -----------------------------------------------------------------------------------


def test_the_execution_price_is_a_dry_run_over_the_book(parsec_target, frozen_prices):
    market_id = parsec_target.market_id("kalshi")
    book = parsec_target.client.get_orderbook(exchange="kalshi", market_id=market_id, outcome="Yes")

    run = parsec_target.client.get_execution_price(
        exchange="kalshi", market_id=market_id, outcome="Yes", side="buy", amount=Decimal(5)
    )

    assert Decimal(0) <= run.filled_amount <= Decimal(5)
    assert run.fully_filled is (run.filled_amount == Decimal(5))
    if run.filled_amount:
        assert run.avg_price is not None
        assert run.avg_price >= book.asks[0][0]
    if parsec_target.is_sim:
        best_ask, touch = book.asks[0]
        assert touch >= 5  # the touch holds at least half the typical depth
        assert (run.levels_consumed, run.avg_price, run.total_cost) == (1, best_ask, best_ask * 5)
        assert run.fee_estimate == (best_ask * 5 * 10 / Decimal(10_000)).quantize(
            Decimal("0.000001"), ROUND_CEILING
        )


def test_the_dry_run_predicts_the_fill_the_order_then_gets(parsec_target, frozen_prices):
    if not parsec_target.is_sim:
        pytest.skip("places an order")
    market_id = parsec_target.market_id("kalshi")
    customer = parsec_target.new_customer()
    run = parsec_target.client.get_execution_price(
        exchange="kalshi", market_id=market_id, outcome="No", side="buy", amount=Decimal(6)
    )

    order = buy(parsec_target, customer, market_id, size="6", outcome="No")
    [fill] = [fill for fill in parsec_target.client.list_fills(exchange="kalshi", customer_id=customer)]

    assert (order.status, fill.order_id, fill.price, fill.size, fill.fee) == (
        "filled",
        order.id,
        run.avg_price,
        run.filled_amount,
        run.fee_estimate,
    )


def test_an_execution_price_needs_a_side_and_a_positive_amount(parsec_target):
    market_id = parsec_target.market_id("kalshi")
    for side, amount in (("hold", Decimal(5)), ("buy", Decimal(0)), ("buy", Decimal(-3))):
        with pytest.raises(ParsecRejected) as refused:
            parsec_target.client.get_execution_price(
                exchange="kalshi", market_id=market_id, outcome="Yes", side=side, amount=amount
            )
        assert refused.value.status == 400


# --- Positions, balance, fills -------------------------------------------------------------------------


def test_a_new_customer_has_no_positions_and_a_readable_balance(parsec_target):
    customer = parsec_target.new_customer()

    assert parsec_target.client.list_positions(exchange="kalshi", customer_id=customer) == []
    balance = parsec_target.client.get_balance(exchange="polymarket", customer_id=customer)
    assert balance.exchange == "polymarket"
    assert balance.usdc >= 0
    if parsec_target.is_sim:
        assert balance.raw == balance_raw_for("polymarket", 1_000_000_000 * 10**6)


def test_positions_and_balance_follow_the_fills(parsec_target, frozen_prices, settings):
    if not parsec_target.is_sim:
        pytest.skip("trades")
    settings.PARSEC_SIM_STARTING_BALANCE_USDC = 1000
    market_id = parsec_target.market_id("kalshi")
    customer = parsec_target.new_customer()

    buy(parsec_target, customer, market_id, size="10")
    buy(parsec_target, customer, market_id, size="4", side="sell", price="0.01")
    fills = parsec_target.client.list_fills(exchange="kalshi", customer_id=customer)
    [position] = parsec_target.client.list_positions(exchange="kalshi", customer_id=customer)
    balance = parsec_target.client.get_balance(exchange="kalshi", customer_id=customer)

    bought = next(fill for fill in fills if fill.side == "buy")
    sold = next(fill for fill in fills if fill.side == "sell")
    assert (position.market_id, position.outcome, position.size) == (market_id, "Yes", Decimal(6))
    assert position.average_price == bought.price
    assert position.current_price == bought.price  # one price bucket: the market has not moved
    spent = usdc_base_units_owed(bought.price * 10) + usdc_base_units_owed(bought.fee)
    received = int(sold.price * 4 * 10**6) - usdc_base_units_owed(sold.fee)
    # Kalshi counts whole cents.
    assert balance.usdc == (1000 * 10**6 - spent + received) // 10_000 * 10_000
    assert parsec_target.client.get_balance(exchange="polymarket", customer_id=customer).usdc == (
        1000 * 10**6 - spent + received
    )


def test_an_order_the_balance_cannot_pay_is_refused_with_402(parsec_target, frozen_prices, settings):
    if not parsec_target.is_sim:
        pytest.skip("needs a balance of 1 USDC")
    settings.PARSEC_SIM_STARTING_BALANCE_USDC = 1
    market_id = parsec_target.market_id("kalshi")
    customer = parsec_target.new_customer()

    with pytest.raises(ParsecRejected) as refused:
        buy(parsec_target, customer, market_id, size="10", price="0.50")
    buy(parsec_target, customer, market_id, size="1", price="0.50")  # 0.50 + fee fits in 1 USDC

    assert (refused.value.status, refused.value.code) == (402, "insufficient_funds")
    orders = parsec_target.client.list_orders(exchange="kalshi", customer_id=customer, status="all")
    assert [order.size for order in orders] == [Decimal(1)]


def test_positions_are_private_to_the_customer(parsec_target, frozen_prices):
    if not parsec_target.is_sim:
        pytest.skip("trades")
    market_id = parsec_target.market_id("kalshi")
    trader, other = parsec_target.new_customer(), parsec_target.new_customer()
    buy(parsec_target, trader, market_id, size="3")

    assert len(parsec_target.client.list_positions(exchange="kalshi", customer_id=trader)) == 1
    assert parsec_target.client.list_positions(exchange="kalshi", customer_id=other) == []
    assert parsec_target.client.list_positions(exchange="kalshi", customer_id=trader, market_id="X") == []


def test_balance_is_refused_on_a_data_only_exchange(parsec_target):
    customer = parsec_target.new_customer()

    with pytest.raises(ParsecRejected) as refused:
        parsec_target.client.get_balance(exchange="opinion", customer_id=customer)

    assert refused.value.status in (400, 501)
