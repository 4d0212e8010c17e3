"""The partner API for positions, balance, fills, one market, its book and execution prices."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import make_customer
from orders_support import KALSHI_MARKET, make_trader, order_body, wait_until

from orders.models import Fill, Order
from orders.services import reconcile as reconciliation
from parsec.client import decode_json

S = Order.Status


@pytest.fixture
def frozen_sim(parsec_sim, settings):
    settings.PARSEC_SIM_PRICE_BUCKET_SECONDS = 10**9  # one price for the whole test
    settings.PARSEC_SIM_FEE_ESCROW_ENABLED = False
    settings.PORTFOLIO_BOOK_CACHE_SECONDS = 0
    return parsec_sim


def get(trader, path, **params):
    response = trader.client.get(path, params)
    return response.status_code, decode_json(response.content) if response.content else None


def trade(trader, *, side: str, size: str, price: str) -> Order:
    response = trader.post_order(
        order_body(KALSHI_MARKET, side=side, size=Decimal(size), price=Decimal(price))
    )
    assert response.status_code == 201, response.content
    order_id = decode_json(response.content)["id"]

    def recorded() -> bool:
        reconciliation.reconcile_customer_exchange(
            customer_id=trader.customer.id, exchange="kalshi", now=timezone.now()
        )
        order = Order.objects.get(pk=order_id)
        return order.status == S.FILLED and order.settled_at is not None

    wait_until(recorded, timeout=15, interval=0.05)
    return Order.objects.get(pk=order_id)


def test_positions_and_balance_follow_a_buy_and_a_partial_sell(
    frozen_sim, sim_trader, celery_worker, settings
):
    settings.PARSEC_SIM_STARTING_BALANCE_USDC = 100
    customer = sim_trader.customer

    bought = trade(sim_trader, side="buy", size="10", price="0.99")
    buy_fill = Fill.objects.get(order=bought)
    status, positions = get(sim_trader, f"/api/v1/customers/{customer.id}/positions")
    assert status == 200
    [position] = positions["positions"]
    price = buy_fill.price
    assert (position["exchange"], position["market_id"], position["outcome"]) == (
        "kalshi",
        KALSHI_MARKET,
        "Yes",
    )
    assert position["size"] == 10
    assert position["current_price"] == price  # one price bucket: the market has not moved
    assert position["net_cost"] == price * 10 + buy_fill.fee
    assert position["realised_pnl"] == 0
    assert position["unrealised_pnl"] == -buy_fill.fee  # bought at the market: only the fee is lost

    status, balance = get(sim_trader, f"/api/v1/customers/{customer.id}/balance", exchange="polymarket")
    paid = int((price * 10 + buy_fill.fee) * 10**6)
    assert status == 200
    assert balance["balances"] == [
        {
            "exchange": "polymarket",
            "balance": {
                "amount": str(100 * 10**6 - paid),
                "usdc": format(Decimal(100 * 10**6 - paid).scaleb(-6), "f"),
            },
        }
    ]

    sold = trade(sim_trader, side="sell", size="4", price="0.01")
    sell_fill = Fill.objects.get(order=sold)
    _, positions = get(sim_trader, f"/api/v1/customers/{customer.id}/positions")
    [position] = positions["positions"]
    average = (price * 10 + buy_fill.fee) / 10
    assert position["size"] == 6
    assert position["realised_pnl"] == sell_fill.price * 4 - sell_fill.fee - average * 4
    totals = positions["totals"]
    assert totals["realised_pnl"] + totals["unrealised_pnl"] == totals["market_value"] - totals["net_cost"]


def test_another_partners_customer_answers_404_like_a_missing_one(trader):
    foreign = make_customer()
    for customer_id in (foreign.id, uuid.uuid4(), "not-a-uuid"):
        for path in ("positions", "balance"):
            status, body = get(trader, f"/api/v1/customers/{customer_id}/{path}")
            assert (status, body["code"]) == (404, "not_found")


def test_a_customer_who_never_traded_has_no_positions(trader):
    status, body = get(trader, f"/api/v1/customers/{trader.customer.id}/positions")

    assert status == 200
    assert body == {
        "customer_id": str(trader.customer.id),
        "positions": [],
        "totals": {"market_value": 0, "net_cost": 0, "realised_pnl": 0, "unrealised_pnl": 0},
    }


def _fills(trader, count: int, *, market_id: str = KALSHI_MARKET) -> list[Fill]:
    now = timezone.now()
    order = Order.objects.create(
        partner=trader.partner,
        customer=trader.customer,
        exchange="kalshi",
        market_id=market_id,
        outcome="Yes",
        side="buy",
        price=Decimal("0.5"),
        size=Decimal(count),
        status=S.FILLED,
        filled=Decimal(count),
        created_at=now,
        updated_at=now,
    )
    return Fill.objects.bulk_create(
        Fill(
            fill_id=f"fill-{uuid.uuid4().hex}",
            order=order,
            price=Decimal("0.5"),
            size=Decimal(1),
            fee=Decimal(0),
            created_at=now - timedelta(seconds=index),
            recorded_at=now,
        )
        for index in range(count)
    )


def test_fills_are_listed_newest_first_a_page_at_a_time_with_filters(trader):
    made = _fills(trader, 5)
    other = make_trader(name="Other partner")
    _fills(other, 3)

    status, first = get(trader, "/api/v1/fills", limit=2)
    _, second = get(trader, "/api/v1/fills", limit=2, cursor=first["next_cursor"])
    _, third = get(trader, "/api/v1/fills", limit=2, cursor=second["next_cursor"])

    assert status == 200
    listed = [item["fill_id"] for page in (first, second, third) for item in page["results"]]
    assert listed == [fill.fill_id for fill in made]  # made newest first
    assert third["next_cursor"] is None
    assert first["results"][0]["customer_id"] == str(trader.customer.id)
    assert get(trader, "/api/v1/fills", customer=str(other.customer.id))[1]["results"] == []
    assert get(trader, "/api/v1/fills", exchange="polymarket")[1]["results"] == []
    assert len(get(trader, "/api/v1/fills", market_id=KALSHI_MARKET)[1]["results"]) == 5
    after = (made[1].created_at).isoformat()
    assert [item["fill_id"] for item in get(trader, "/api/v1/fills", created_after=after)[1]["results"]] == [
        made[0].fill_id,
        made[1].fill_id,
    ]
    assert get(trader, "/api/v1/fills", exchange="nasdaq")[0] == 400
    assert get(trader, "/api/v1/fills", customers="x")[0] == 400


def test_a_page_of_fills_takes_the_same_queries_at_any_size(trader):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _fills(trader, 210)
    get(trader, "/api/v1/fills", limit=1)  # the key's first use of the minute records last_used_at
    counts = {}
    for limit in (1, 50, 200):
        with CaptureQueriesContext(connection) as queries:
            status, body = get(trader, "/api/v1/fills", limit=limit)
        assert status == 200
        assert len(body["results"]) == limit
        counts[limit] = len(queries)

    assert counts[1] == counts[50] == counts[200] <= 3  # the key, then the page


def test_one_market_its_book_and_a_dry_run(frozen_sim, sim_trader):
    status, market = get(sim_trader, f"/api/v1/markets/kalshi/{KALSHI_MARKET}")
    assert status == 200
    yes, no = market["outcomes"]
    assert (yes["name"], no["name"]) == ("Yes", "No")
    assert yes["price"] + no["price"] == 1
    assert market["end_date"]
    assert market["tick_size"] == Decimal("0.01")

    status, book = get(sim_trader, f"/api/v1/markets/kalshi/{KALSHI_MARKET}/orderbook", outcome="No", depth=5)
    assert status == 200
    assert book["outcome"] == "No"
    assert book["asks"][0]["price"] == no["price"]

    status, run = get(
        sim_trader,
        "/api/v1/execution-price",
        exchange="kalshi",
        market_id=KALSHI_MARKET,
        outcome="No",
        side="buy",
        amount="5",
    )
    assert status == 200
    assert (run["avg_price"], run["total_cost"], run["fully_filled"]) == (no["price"], no["price"] * 5, True)

    assert get(sim_trader, "/api/v1/markets/kalshi/NOPE")[1]["code"] == "market_not_found"
    assert get(sim_trader, "/api/v1/markets/nasdaq/X")[1]["code"] == "exchange_not_found"
    bad = get(sim_trader, f"/api/v1/markets/kalshi/{KALSHI_MARKET}/orderbook", outcome="yes")
    assert (bad[0], bad[1]["fields"]) == (400, {"outcome": bad[1]["error"]})
    for params in ({"side": "buy"}, {"side": "hold", "amount": "5"}, {"side": "buy", "amount": "-1"}):
        status, body = get(
            sim_trader, "/api/v1/execution-price", exchange="kalshi", market_id=KALSHI_MARKET, **params
        )
        assert (status, body["code"]) == (400, "validation_error")
