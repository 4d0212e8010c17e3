"""Position and P&L arithmetic from fills, exact in Decimal, by the average-cost method.

For one market and outcome, every fill moves cash: a buy costs price x size plus its fee, a sell brings
price x size less its fee. Net cost is the sum of what was paid less what was received. A fill that
reduces the position closes part of it: its share of the position's cost basis leaves the basis and the
difference with what the closing trade brought is realised. What remains open is valued at the current
price; unrealised P&L is that value less the open basis. Whatever the split, realised + unrealised equals
market value - net cost exactly, because every amount is added once and taken away once. Shares of a
basis are rounded to BASIS_QUANTUM, and all sums run in a context wide enough never to round.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation, Rounded, localcontext

# Finer than any price x size we store (prices and sizes have at most 18 places each would need 36, but
# basis shares are a ratio anyway): 18 places keep the open basis exact to far below a USDC base unit.
BASIS_QUANTUM = Decimal("1e-18")
# Sums of values below 10**30 with 18 places need 48 digits; traps make any silent rounding an error.
_EXACT = Context(prec=80, traps=[Inexact, Rounded, InvalidOperation])
_RATIO = Context(prec=80, rounding=ROUND_HALF_EVEN)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Trade:
    side: str  # buy or sell
    price: Decimal
    size: Decimal
    fee: Decimal = ZERO  # USDC, paid on top of a buy, out of a sell's proceeds


@dataclass(frozen=True)
class PositionPnl:
    size: Decimal  # signed: negative is short
    average_price: Decimal | None  # open basis per share (fees included); None when flat
    net_cost: Decimal  # paid less received, fees included
    open_cost: Decimal  # the cost basis of what is still held
    realised: Decimal
    current_price: Decimal | None
    market_value: Decimal | None  # size x current price; None when the price is unknown and size != 0
    unrealised: Decimal | None
    bought: Decimal  # shares bought in all
    sold: Decimal


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """amount x part / whole, rounded once to BASIS_QUANTUM."""
    return _RATIO.divide(_RATIO.multiply(amount, part), whole).quantize(BASIS_QUANTUM, context=_RATIO)


def position_pnl(trades: Iterable[Trade], *, current_price: Decimal | None) -> PositionPnl:
    """The position and P&L of one market/outcome from its trades in the order they happened."""
    with localcontext(_EXACT):
        return _position_pnl(trades, current_price=current_price)


def _position_pnl(trades: Iterable[Trade], *, current_price: Decimal | None) -> PositionPnl:
    # Plain operators under the exact context: any rounding at all would raise (Inexact, Rounded).
    size = ZERO
    basis = ZERO  # signed: what the open position cost (negative for a short: what it brought in)
    net_cost = ZERO
    realised = ZERO
    bought = sold = ZERO
    for trade in trades:
        quantity = trade.size if trade.side == "buy" else -trade.size
        notional = trade.price * trade.size
        cash = notional + trade.fee if trade.side == "buy" else -notional + trade.fee
        net_cost += cash
        if trade.side == "buy":
            bought += trade.size
        else:
            sold += trade.size
        if size == 0 or (size > 0) == (quantity > 0):
            basis += cash
            size += quantity
            continue
        closing = min(abs(quantity), abs(size))
        closing_cash = cash if closing == abs(quantity) else _share(cash, closing, abs(quantity))
        closed_basis = basis if closing == abs(size) else _share(basis, closing, abs(size))
        realised += -closing_cash - closed_basis
        basis -= closed_basis
        size += closing if quantity > 0 else -closing
        if closing < abs(quantity):  # the trade went through zero and opened the other way
            basis += cash - closing_cash
            size += quantity - (closing if quantity > 0 else -closing)
    if size == 0:
        market_value: Decimal | None = ZERO
        # A flat position holds no basis: the rounding dust of its shares is realised with it.
        realised -= basis
        basis = ZERO
    elif current_price is None:
        market_value = None
    else:
        market_value = size * current_price
    unrealised = None if market_value is None else market_value - basis
    average = None if size == 0 else _RATIO.divide(basis, size).quantize(Decimal("1e-6"), context=_RATIO)
    return PositionPnl(
        size=size,
        average_price=average,
        net_cost=net_cost,
        open_cost=basis,
        realised=realised,
        current_price=current_price,
        market_value=market_value,
        unrealised=unrealised,
        bought=bought,
        sold=sold,
    )
