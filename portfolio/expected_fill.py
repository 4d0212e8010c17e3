"""What an order would do before it is placed: the expected fill from Parsec's dry run, the fees, the
total, whether the balance can pay it, and whether its limit is far through the market."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from customers.models import Customer
from fees.services import FeeError, escrow_config_current, fee_applies, fee_quote
from parsec.contract import usdc_base_units_owed
from portfolio import market_data

# A limit this far past the market (in price units) gets a warning: it fills at the market, not at
# the limit, and whatever the book cannot fill at once rests at that limit.
FAR_THROUGH_MARKET = Decimal("0.10")
_USDC_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class ExpectedFill:
    market_price: Decimal | None  # the touch: what a marketable order of this side meets
    marketable: bool
    fills_now: Decimal  # shares that would fill at once
    average_price: Decimal | None  # of what fills at once
    rests: Decimal  # shares that would rest at the limit
    exchange_fee: Decimal  # USDC, on what fills at once (Parsec's estimate)
    builder_fee: int  # USDC base units, the escrow fee of this order (its fee_auth amount)
    total_cost: (
        Decimal  # USDC: a buy pays this at most if all of it fills (a sell receives the notional less fees)
    )
    funds_needed: int  # USDC base units the balance must hold for the exchange to accept the order
    balance: int | None  # USDC base units; None when it cannot be read
    far_through: bool


def expected_fill(
    *,
    customer: Customer,
    exchange: str,
    market_id: str,
    outcome: str,
    side: str,
    price: Decimal,
    size: Decimal,
    taker_fee_bps: int,
    now: datetime,
) -> ExpectedFill:
    """Raises MarketDataError when Parsec cannot be asked for the dry run."""
    run = market_data.execution_price(
        exchange=exchange, market_id=market_id, outcome=outcome, side=side, amount=size
    )
    touch = run["avg_price"]
    marketable = touch is not None and (price >= touch if side == "buy" else price <= touch)
    fills_now = run["filled_amount"] if marketable else Decimal(0)
    exchange_fee = (run["fee_estimate"] or Decimal(0)) if marketable else Decimal(0)
    builder_fee = 0
    if fee_applies(partner=customer.partner, exchange=exchange):
        try:
            config = escrow_config_current(now=now, may_refresh=True)
            builder_fee = fee_quote(
                partner=customer.partner, exchange=exchange, price=price, size=size, config=config
            ).fee_amount
        except FeeError:
            builder_fee = 0
    rests = size - fills_now
    now_cost = (touch * fills_now) if marketable else Decimal(0)
    builder_usdc = Decimal(builder_fee).scaleb(-6)
    if side == "buy":
        total = now_cost + rests * price + exchange_fee + builder_usdc
        notional = price * size
        worst_exchange_fee = (notional * taker_fee_bps / 10_000).quantize(
            _USDC_QUANTUM, rounding=ROUND_CEILING
        )
        funds_needed = usdc_base_units_owed(notional) + usdc_base_units_owed(worst_exchange_fee) + builder_fee
    else:
        total = now_cost + rests * price - exchange_fee - builder_usdc  # what the sale brings in
        funds_needed = builder_fee
    try:
        balances = market_data.customer_balances(customer=customer, exchange=exchange)
        balance: int | None = balances[0]["usdc"]
    except market_data.MarketDataError:
        balance = None
    far_through = marketable and touch is not None and abs(price - touch) >= FAR_THROUGH_MARKET
    return ExpectedFill(
        market_price=touch,
        marketable=marketable,
        fills_now=fills_now,
        average_price=touch if marketable and fills_now else None,
        rests=rests,
        exchange_fee=exchange_fee,
        builder_fee=builder_fee,
        total_cost=total,
        funds_needed=funds_needed,
        balance=balance,
        far_through=far_through,
    )
