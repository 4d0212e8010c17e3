"""The simulator's order book per market and outcome, and execution-price dry runs over it.

The book is what the matching engine trades against. At the touch sits the simulated liquidity a taker
meets at the market price (Parsec's books are deep; the simulator draws one level per time bucket and
side). Behind it rest the live limit orders of every builder user, at their limits, waiting for the
market to reach them; orders never trade with each other here, so a taker meets the touch only and the
rest of a larger order rests. In a binary market the two outcomes are one book seen from both sides:
buying No at p is selling Yes at 1 - p, so No's bids are 1 - Yes's asks (the same sizes) and back.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from django.conf import settings

from parsec.sim.catalogue import book_depth, outcome_price, price_bucket, reference_price
from parsec.sim.models import SimMarket, SimOrder

_USDC_QUANTUM = Decimal("0.000001")


def complement_outcome(market: SimMarket, outcome: str) -> str | None:
    """The other outcome of a binary market; None where a market has more (or fewer) outcomes."""
    outcomes = list(market.outcomes)
    if len(outcomes) != 2 or outcome not in outcomes:
        return None
    return outcomes[1] if outcome == outcomes[0] else outcomes[0]


def outcome_market_price(*, market: SimMarket, outcome: str, now: datetime) -> Decimal:
    """The price of one outcome now: the reference for the first, 1 - it for a binary No."""
    yes_price = reference_price(
        exchange=market.exchange,
        market_id=market.market_id,
        bucket=price_bucket(now, max(1, settings.PARSEC_SIM_PRICE_BUCKET_SECONDS)),
        seed=settings.PARSEC_SIM_SEED,
    )
    price = outcome_price(outcomes=market.outcomes, outcome=outcome, yes_price=yes_price)
    return yes_price if price is None else price


def taker_depth(*, market: SimMarket, outcome: str, side: str, now: datetime, typical: int) -> Decimal:
    """Shares a taker finds at the touch: a buyer of an outcome meets its ask, a seller its bid, which in
    a binary market is the other outcome's ask seen from this side."""
    book_outcome = outcome
    if side == "sell":
        book_outcome = complement_outcome(market, outcome) or outcome
    return book_depth(
        exchange=market.exchange,
        market_id=market.market_id,
        bucket=price_bucket(now, max(1, settings.PARSEC_SIM_PRICE_BUCKET_SECONDS)),
        seed=settings.PARSEC_SIM_SEED,
        typical=typical,
        outcome=book_outcome,
    )


@dataclass(frozen=True)
class Book:
    bids: list[tuple[Decimal, Decimal]]  # best (highest) first
    asks: list[tuple[Decimal, Decimal]]  # best (lowest) first
    price: Decimal  # the outcome's market price, where the touch sits


def order_book(*, market: SimMarket, outcome: str, depth: int, now: datetime) -> Book:
    price = outcome_market_price(market=market, outcome=outcome, now=now)
    typical = settings.PARSEC_SIM_BOOK_DEPTH
    bids: dict[Decimal, Decimal] = defaultdict(Decimal)
    asks: dict[Decimal, Decimal] = defaultdict(Decimal)
    bids[price] += taker_depth(market=market, outcome=outcome, side="sell", now=now, typical=typical)
    asks[price] += taker_depth(market=market, outcome=outcome, side="buy", now=now, typical=typical)
    other = complement_outcome(market, outcome)
    resting = SimOrder.objects.filter(
        market=market,
        outcome__in=[outcome] if other is None else [outcome, other],
        status__in=SimOrder.LIVE_STATUSES,
    ).values_list("outcome", "side", "price", "size", "filled")
    for order_outcome, side, limit, size, filled in resting:
        remaining = size - filled
        if remaining <= 0:
            continue
        # Seen from this outcome: a sell of the other outcome at p is a buy of this one at 1 - p.
        if order_outcome != outcome:
            limit = Decimal(1) - limit
            side = "buy" if side == "sell" else "sell"
        # Only orders away from the market rest; one at or through it is being filled.
        if side == "buy" and limit < price:
            bids[limit.normalize()] += remaining
        elif side == "sell" and limit > price:
            asks[limit.normalize()] += remaining
    return Book(
        bids=sorted(bids.items(), key=lambda level: -level[0])[:depth],
        asks=sorted(asks.items(), key=lambda level: level[0])[:depth],
        price=price,
    )


@dataclass(frozen=True)
class DryRun:
    filled_amount: Decimal
    fully_filled: bool
    levels_consumed: int
    total_cost: Decimal  # USDC, exact
    avg_price: Decimal | None
    worst_price: Decimal | None
    slippage: Decimal | None  # avg_price against the best price, in price units
    fee_estimate: Decimal  # the exchange's taker fee on what fills, USDC rounded up to a base unit


def execution_price(*, market: SimMarket, outcome: str, side: str, amount: Decimal, now: datetime) -> DryRun:
    """What a marketable order of ``amount`` would do now, exactly as the matching engine does it."""
    price = outcome_market_price(market=market, outcome=outcome, now=now)
    depth = taker_depth(
        market=market, outcome=outcome, side=side, now=now, typical=settings.PARSEC_SIM_BOOK_DEPTH
    )
    filled = min(amount, depth)
    total = price * filled
    fee = (total * settings.PARSEC_SIM_TAKER_FEE_BPS / 10_000).quantize(_USDC_QUANTUM, rounding=ROUND_CEILING)
    return DryRun(
        filled_amount=filled,
        fully_filled=filled >= amount,
        levels_consumed=1 if filled > 0 else 0,
        total_cost=total,
        avg_price=price if filled > 0 else None,
        worst_price=price if filled > 0 else None,
        slippage=Decimal(0) if filled > 0 else None,
        fee_estimate=fee,
    )
