"""The matching engine: taker fills on arrival, resting fills in chunks over time, expiry; deterministic.

Nothing runs in the background. Callers (services, inside their transaction) bring an order up to a
given time with ``advance_order``: every fill chunk and expiry due by then is applied, each stamped
with the simulated moment it happened, so the outcome depends only on the order, the seed and time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal

from django.conf import settings

from parsec.sim.book import taker_depth
from parsec.sim.catalogue import outcome_price, price_bucket, reference_price
from parsec.sim.models import SimFill, SimOrder

# An order left unread for a very long time is brought up to date in bounded work; ticks beyond this
# many are skipped (the order just waits for the next read).
MAX_TICKS_PER_ADVANCE = 10_000
_USDC_QUANTUM = Decimal("0.000001")


@dataclass(frozen=True)
class EngineSettings:
    seed: int
    bucket_seconds: int
    interval: timedelta
    chunk_fraction: Decimal
    typical_depth: int
    taker_fee_bps: int

    @classmethod
    def current(cls) -> EngineSettings:
        return cls(
            seed=settings.PARSEC_SIM_SEED,
            bucket_seconds=max(1, settings.PARSEC_SIM_PRICE_BUCKET_SECONDS),
            interval=timedelta(seconds=max(0.01, settings.PARSEC_SIM_FILL_INTERVAL_SECONDS)),
            chunk_fraction=Decimal(str(settings.PARSEC_SIM_FILL_CHUNK_FRACTION)),
            typical_depth=settings.PARSEC_SIM_BOOK_DEPTH,
            taker_fee_bps=settings.PARSEC_SIM_TAKER_FEE_BPS,
        )


def market_price(order: SimOrder, at: datetime, engine: EngineSettings) -> Decimal:
    """The price of the order's own outcome: the reference for the first, 1 - it for a binary No.

    Each outcome is its own book around that price. Orders never trade with each other here (every
    order meets the simulated book of its outcome), so a No order can never cross a Yes order.
    """
    yes_price = reference_price(
        exchange=order.exchange,
        market_id=order.market.market_id,
        bucket=price_bucket(at, engine.bucket_seconds),
        seed=engine.seed,
    )
    price = outcome_price(outcomes=order.market.outcomes, outcome=order.outcome, yes_price=yes_price)
    return yes_price if price is None else price


def is_marketable(order: SimOrder, price: Decimal) -> bool:
    return order.price >= price if order.side == "buy" else order.price <= price


def _size_quantum(size: Decimal) -> Decimal:
    # Chunks keep at least two decimal places, or the order's own precision if finer.
    exponent = size.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return Decimal(1).scaleb(-places)


def _chunk(order: SimOrder, engine: EngineSettings) -> Decimal:
    quantum = _size_quantum(order.size)
    chunk = (order.size * engine.chunk_fraction).quantize(quantum, rounding=ROUND_DOWN)
    return min(order.remaining, max(chunk, quantum))


def _record_fill(
    order: SimOrder, *, size: Decimal, price: Decimal, is_taker: bool, at: datetime, engine: EngineSettings
) -> SimFill:
    """Apply a fill to the order in memory; the caller saves both (the fill after the order exists)."""
    order.fill_count += 1
    fee = Decimal(0)
    if is_taker and engine.taker_fee_bps:
        fee = (price * size * engine.taker_fee_bps / 10_000).quantize(_USDC_QUANTUM, rounding=ROUND_CEILING)
    fill = SimFill(
        fill_id=f"fill_{order.id.removeprefix('ord_')}_{order.fill_count}",
        order=order,
        price=price,
        size=size,
        is_taker=is_taker,
        fee=fee,
        created_at=at,
    )
    order.filled += size
    order.status = SimOrder.Status.FILLED if order.filled >= order.size else SimOrder.Status.PARTIALLY_FILLED
    order.updated_at = at
    return fill


def _cancel(order: SimOrder, at: datetime) -> None:
    order.status = SimOrder.Status.CANCELLED
    order.updated_at = at
    order.next_event_at = None


def _schedule(order: SimOrder, next_tick: datetime) -> None:
    if not order.is_live:
        order.next_event_at = None
        return
    if order.expiration is not None and order.expiration <= next_tick:
        next_tick = order.expiration
    order.next_event_at = next_tick


def match_new_order(order: SimOrder, *, now: datetime, engine: EngineSettings) -> list[SimFill]:
    """Apply what happens on arrival, before the order is saved: a taker fill, ioc/fok outcomes.

    Returns the unsaved fills, to be written once the order row exists.
    """
    price = market_price(order, now, engine)
    depth = Decimal(0)
    if is_marketable(order, price):
        # The touch of the book this order takes from (parsec.sim.book): a seller meets the bids.
        depth = taker_depth(
            market=order.market, outcome=order.outcome, side=order.side, now=now, typical=engine.typical_depth
        )
    if order.order_type == "fok" and depth < order.size:
        _cancel(order, now)  # fill-or-kill: all of it at once or nothing
        return []
    fills = []
    taker_size = min(order.size, depth)
    if taker_size > 0:
        # The taker trades at the market price, which is at least as good as its limit.
        fills.append(_record_fill(order, size=taker_size, price=price, is_taker=True, at=now, engine=engine))
    if order.order_type == "ioc" and order.is_live:
        _cancel(order, now)  # the unfilled rest never rests
        return fills
    _schedule(order, now + engine.interval)
    return fills


def advance_order(order: SimOrder, *, now: datetime, engine: EngineSettings) -> list[SimFill]:
    """Apply every resting fill chunk and the expiry due by ``now``; returns the unsaved fills made.

    A resting order fills one chunk per interval while the market price reaches its limit, as a maker
    at its own limit price. While the price does not reach it, nothing can happen until the price
    changes, so the engine jumps to the next price bucket.
    """
    fills: list[SimFill] = []
    moment = order.next_event_at
    ticks = 0
    while order.is_live and moment is not None and moment <= now:
        if order.expiration is not None and order.expiration <= moment:
            _cancel(order, order.expiration)  # a gtd past its time shows as cancelled, as on Parsec
            return fills
        if ticks >= MAX_TICKS_PER_ADVANCE:
            moment = now + engine.interval
            break
        ticks += 1
        if is_marketable(order, market_price(order, moment, engine)):
            chunk = _chunk(order, engine)
            fills.append(
                _record_fill(order, size=chunk, price=order.price, is_taker=False, at=moment, engine=engine)
            )
            moment += engine.interval
        else:
            next_bucket = (price_bucket(moment, engine.bucket_seconds) + 1) * engine.bucket_seconds
            moment = max(moment + engine.interval, datetime.fromtimestamp(next_bucket, tz=moment.tzinfo))
        if order.expiration is not None and moment > order.expiration:
            moment = order.expiration  # never jump over the expiry
    if moment is not None:
        _schedule(order, moment)
    return fills
