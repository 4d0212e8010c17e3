"""What the web says about an order's end and its fills, and the fee sentence when the minimum applies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from factories import make_fee_authorization

from orders.models import Fill, Order

pytestmark = pytest.mark.django_db

S = Order.Status
DEADLINE = datetime(2026, 3, 2, 12, 34, 56, tzinfo=UTC)


def make_order(customer, *, status: str, **fields) -> Order:
    now = fields.pop("now", timezone.now())
    values = {
        "exchange": "kalshi",
        "market_id": "KXFEDDECISION-26JAN-C25",
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.55"),
        "size": Decimal("10"),
        **fields,
    }
    return Order.objects.create(
        partner=customer.partner, customer=customer, status=status, created_at=now, updated_at=now, **values
    )


def listed(trader, order: Order) -> dict:
    rows = trader.client.get("/app/orders").json()["orders"]
    return next(row for row in rows if row["id"] == str(order.id))


def test_an_order_whose_fee_was_never_signed_says_so_with_the_deadline(trader):
    authorization = make_fee_authorization(
        customer=trader.customer, fee_amount=10_000, deadline=DEADLINE, state="expired"
    )
    order = make_order(
        trader.customer,
        status=S.FAILED,
        exchange="polymarket",
        fee_authorization=authorization,
        last_error_code="fee_deadline_passed",
    )

    row = listed(trader, order)

    assert row["status_label"] == "Failed"
    expected = (
        "The fee was not signed before its deadline (02 Mar 2026, 12:34:56 UTC), so the order was never sent."
    )
    assert row["end_reason"] == expected
    assert row["status_detail"] == expected


def test_a_rejected_order_shows_parsec_s_rejection_text(trader):
    order = make_order(
        trader.customer,
        status=S.REJECTED,
        last_error_code="insufficient_balance",
        last_error_message="Insufficient balance: 5.50 USDC needed, 1.20 available.",
    )

    assert listed(trader, order)["end_reason"] == (
        "Rejected by the exchange: Insufficient balance: 5.50 USDC needed, 1.20 available."
    )


def test_a_gtd_order_past_its_time_reads_as_expired_not_just_cancelled(trader):
    expiry = timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    order = make_order(
        trader.customer,
        status=S.CANCELLED,
        order_type="gtd",
        expiration=int(expiry.timestamp()),
        filled=Decimal("4"),
        sent_at=expiry - timedelta(minutes=5),
    )

    reason = listed(trader, order)["end_reason"]

    assert (
        reason == f"Expired: its good-'til time ({expiry:%d %b %Y, %H:%M:%S} UTC) passed; 4 of 10 had filled."
    )


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"cancel_requested_at": "now"}, "Cancelled on request before it was sent; no fee was taken."),
        ({"cancel_requested_at": "now", "sent_at": "now"}, "Cancelled on request; nothing had filled."),
        (
            {"order_type": "fok", "sent_at": "now"},
            "Fill or kill: the whole order could not fill at once, so none of it did.",
        ),
        ({"sent_at": "now"}, "Cancelled by the exchange; nothing had filled."),
    ],
)
def test_every_cancelled_order_says_why(trader, fields, reason):
    now = timezone.now()
    order = make_order(
        trader.customer, status=S.CANCELLED, **{k: now if v == "now" else v for k, v in fields.items()}
    )

    assert listed(trader, order)["end_reason"] == reason


def test_a_filled_order_shows_its_average_fill_price_and_no_end_reason(trader):
    order = make_order(trader.customer, status=S.FILLED, filled=Decimal("10"))
    now = timezone.now()
    for index, (price, size) in enumerate([("0.52", "4"), ("0.55", "6")]):
        Fill.objects.create(
            fill_id=f"fill-{index}",
            order=order,
            price=Decimal(price),
            size=Decimal(size),
            created_at=now,
            recorded_at=now,
        )

    row = listed(trader, order)

    # (0.52 x 4 + 0.55 x 6) / 10 = 0.538, exactly
    assert (row["average_fill_price"], row["filled"], row["end_reason"]) == ("0.538", "10", "")


def test_an_order_without_fills_has_no_average_price(trader):
    row = listed(trader, make_order(trader.customer, status=S.OPEN))

    assert row["average_fill_price"] is None


def test_the_quote_says_plainly_when_the_minimum_fee_applies(trader):
    from fees.services import escrow_config_store
    from parsec.client import EscrowConfig

    config = EscrowConfig(
        fee_escrow_enabled=True,
        fee_bps=25,
        affiliate_address="0x39Bc708AdD3A470e59192d3c2d108e57178C80a9",
        escrow_contract_address="0x39F35887e583ed7d6eFf6fa472359371145ba549",
        min_fee_usdc=10_000,  # 0.01 USDC
        min_fee_bps=1,
        treasury_address="0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e",
        affiliate_fee_bps=5000,
        chain_id=137,
    )
    escrow_config_store(config=config, now=timezone.now())

    minimum = trader.client.get("/app/quote?exchange=polymarket&price=0.5&size=1").json()["summary"]
    rate = trader.client.get("/app/quote?exchange=polymarket&price=0.55&size=100").json()["summary"]

    assert minimum.startswith(
        "Builder fee: 0.01 USDC, the minimum fee (25 bps of this 0.5 USDC order would be less)."
    )
    assert "basis points of the order" not in minimum
    assert rate.startswith("Builder fee: 0.1375 USDC, 25 basis points of the order's 55 USDC value.")
    assert "minimum" not in rate


@pytest.mark.parametrize(
    ("market", "prices"),
    [
        ({"outcomes": ["Yes", "No"], "price": Decimal("0.82")}, {"Yes": "0.82", "No": "0.18"}),
        ({"outcomes": ["Yes", "No"], "price": Decimal("0.575")}, {"Yes": "0.575", "No": "0.425"}),
        ({"outcomes": ["Yes", "No"], "price": None}, {"Yes": None, "No": None}),
        ({"outcomes": ["Trump", "Harris"], "price": Decimal("0.6")}, {"Trump": None, "Harris": None}),
        (
            {
                "outcomes": ["Yes", "No"],
                "price": Decimal("0.6"),
                "outcome_prices": {"Yes": "0.6", "No": "0.41"},
            },
            {"Yes": "0.6", "No": "0.41"},  # the market's own No price wins over 1 - Yes
        ),
    ],
)
def test_each_outcome_has_its_own_price_for_the_ticket(market, prices):
    from web.markets import outcome_prices

    assert outcome_prices(market) == prices
