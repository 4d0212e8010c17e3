"""The simulator's account state per builder user: its USDC balance and its positions, from its fills."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import F

from parsec.contract import (
    ContractError,
    ErrorCode,
    OrderRequest,
    usdc_base_units_earned,
    usdc_base_units_owed,
)
from parsec.sim.book import outcome_market_price
from parsec.sim.models import SimBuilderUser, SimFill, SimMarket, SimOrder

_USDC_BASE_UNITS = 10**6


def starting_balance_base_units() -> int:
    return settings.PARSEC_SIM_STARTING_BALANCE_USDC * _USDC_BASE_UNITS


def balance_base_units(customer: SimBuilderUser) -> int:
    """The end-user's USDC balance now, read afresh (fills of other requests may have moved it)."""
    delta = SimBuilderUser.objects.filter(pk=customer.pk).values_list("usdc_delta", flat=True).first()
    return starting_balance_base_units() + (delta or 0)


def fill_cash_base_units(*, side: str, price: Decimal, size: Decimal, fee: Decimal) -> int:
    """What one fill does to the balance: a buyer pays the notional rounded up, a seller receives it
    rounded down, and the exchange fee (already whole base units) is paid by either."""
    fee_units = usdc_base_units_owed(fee)
    if side == "buy":
        return -(usdc_base_units_owed(price * size) + fee_units)
    return usdc_base_units_earned(price * size) - fee_units


def balances_apply_fills(fills: Iterable[SimFill]) -> None:
    """Debit and credit the fills' owners; called in the transaction that writes the fills."""
    amounts: dict = defaultdict(int)
    for fill in fills:
        order = fill.order
        amounts[order.customer_id] += fill_cash_base_units(
            side=order.side, price=fill.price, size=fill.size, fee=fill.fee
        )
    for customer_id, amount in amounts.items():
        if amount:
            SimBuilderUser.objects.filter(pk=customer_id).update(usdc_delta=F("usdc_delta") + amount)


def balance_apply(*, customer: SimBuilderUser, amount: int) -> None:
    """A fee pulled into escrow (negative) or refunded from it (positive), in USDC base units."""
    if amount:
        SimBuilderUser.objects.filter(pk=customer.pk).update(usdc_delta=F("usdc_delta") + amount)


def order_funds_needed(order_request: OrderRequest) -> int:
    """USDC base units an order must be able to pay before it is accepted: a buy's notional at its
    limit plus the worst-case taker fee, and the escrow fee of either side."""
    fee_auth = order_request.fee_auth
    needed = fee_auth.fee_amount if fee_auth is not None else 0
    if order_request.side == "buy":
        notional = order_request.price * order_request.size
        needed += usdc_base_units_owed(notional)
        needed += usdc_base_units_owed(notional * settings.PARSEC_SIM_TAKER_FEE_BPS / 10_000)
    return needed


def balance_check(*, customer: SimBuilderUser, order_request: OrderRequest) -> None:
    """Parsec's 402 for an order the balance cannot pay (resting orders reserve nothing here)."""
    needed = order_funds_needed(order_request)
    available = balance_base_units(customer)
    if needed > available:
        raise ContractError(
            f"insufficient funds: this order needs {Decimal(needed).scaleb(-6)} USDC and the balance is "
            f"{Decimal(available).scaleb(-6)} USDC",
            status=402,
            code=ErrorCode.INSUFFICIENT_FUNDS,
        )


def escrow_refund_base_units(order: SimOrder) -> int:
    """The unfilled part of an order's escrowed fee, given back on cancel (rounded down, pro rata)."""
    if not order.fee_amount:
        return 0
    fee = int(order.fee_amount)
    return int(fee * (order.size - order.filled) / order.size)


@dataclass(frozen=True)
class SimPosition:
    market: SimMarket
    outcome: str
    size: Decimal
    average_price: Decimal


def positions_of(
    *, customer: SimBuilderUser, exchange: str, market_id: str | None = None
) -> list[SimPosition]:
    """Net size per market and outcome from the user's fills, with the average price of its buys."""
    fills = SimFill.objects.filter(order__customer=customer, order__exchange=exchange).select_related(
        "order__market"
    )
    if market_id:
        fills = fills.filter(order__market__market_id=market_id)
    held: dict[tuple[int, str], list] = {}
    for fill in fills.order_by("created_at", "fill_id"):
        key = (fill.order.market_id, fill.order.outcome)
        entry = held.setdefault(key, [fill.order.market, Decimal(0), Decimal(0), Decimal(0)])
        if fill.order.side == "buy":
            entry[1] += fill.size
            entry[2] += fill.size
            entry[3] += fill.price * fill.size
        else:
            entry[1] -= fill.size
    positions = []
    for (_, outcome), (market, size, bought, spent) in held.items():
        if size == 0:
            continue
        average = (spent / bought).quantize(Decimal("1e-6")) if bought else Decimal(0)
        positions.append(SimPosition(market=market, outcome=outcome, size=size, average_price=average))
    return positions


def position_current_price(position: SimPosition, *, now: datetime) -> Decimal | None:
    return outcome_market_price(market=position.market, outcome=position.outcome, now=now)
