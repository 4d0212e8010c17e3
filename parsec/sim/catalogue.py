"""The simulator's exchanges and seeded markets, and the deterministic reference price of a market."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from eth_hash.auto import keccak

from parsec.contract import EXCHANGE_NAMES, EXCHANGES

TRADABLE_EXCHANGES = frozenset({"polymarket", "kalshi"})
# Parsec's `has` flags, as its SDK (parsec-api 0.17.0) types them.
_CAPABILITIES = (
    "cancel_order",
    "create_order",
    "fetch_balance",
    "fetch_events",
    "fetch_fills",
    "fetch_markets",
    "fetch_order_history",
    "fetch_orderbook",
    "fetch_orderbook_history",
    "fetch_positions",
    "fetch_price_history",
    "fetch_trades",
    "fetch_user_activity",
    "refresh_balance",
    "watch_address",
    "websocket",
)
_DATA_CAPABILITIES = frozenset(
    {
        "fetch_events",
        "fetch_markets",
        "fetch_orderbook",
        "fetch_orderbook_history",
        "fetch_price_history",
        "fetch_trades",
    }
)
# The simulator has no streams: nobody can watch an address or open a WebSocket here.
_NOT_SIMULATED = frozenset({"watch_address", "websocket"})


def exchange_capabilities(exchange: str) -> dict[str, bool]:
    """Parsec's `has` flags: every exchange serves data; only Polymarket and Kalshi trade."""
    tradable = exchange in TRADABLE_EXCHANGES
    served = _DATA_CAPABILITIES if not tradable else frozenset(_CAPABILITIES)
    return {name: name in served and name not in _NOT_SIMULATED for name in _CAPABILITIES}


def exchanges_json() -> list[dict]:
    return [
        {"id": exchange, "name": EXCHANGE_NAMES[exchange], "has": exchange_capabilities(exchange)}
        for exchange in EXCHANGES
    ]


@dataclass(frozen=True)
class MarketSeed:
    exchange: str
    market_id: str
    question: str
    outcomes: tuple[str, ...] = ("Yes", "No")
    # Parsec publishes both per market: Polymarket ticks are 0.01 (0.001 on some markets) with a
    # minimum of 5 or 15 shares on some; Kalshi trades whole contracts at a 0.01 tick.
    tick_size: Decimal = Decimal("0.01")
    min_order_size: Decimal = Decimal(1)


def _condition_id(question: str) -> str:
    # Polymarket markets are named by a 32-byte condition id; derive a stable one from the question.
    return "0x" + keccak(question.encode()).hex()


# (question, tick size, minimum order size in shares)
_POLYMARKET_QUESTIONS = (
    ("Will the Fed cut rates at its next meeting?", "0.01", "5"),
    ("Will Bitcoin close the year above $150,000?", "0.01", "5"),
    ("Will a new Pope be named from outside Europe?", "0.001", "15"),
    ("Will the next Premier League champion be Arsenal?", "0.01", "1"),
)

MARKET_SEEDS: tuple[MarketSeed, ...] = (
    *(
        MarketSeed(
            "polymarket",
            _condition_id(question),
            question,
            tick_size=Decimal(tick),
            min_order_size=Decimal(minimum),
        )
        for question, tick, minimum in _POLYMARKET_QUESTIONS
    ),
    MarketSeed("kalshi", "KXFEDDECISION-26JAN-C25", "Fed cuts by 25 bps in January?"),
    MarketSeed("kalshi", "KXBTCMAXY-26-150000", "Bitcoin above $150,000 before year end?"),
    MarketSeed("kalshi", "KXHIGHNY-26JUL04-B90", "New York high above 90°F on July 4?"),
    MarketSeed("kalshi", "KXGDP-26Q2-3", "US Q2 GDP growth above 3%?"),
    MarketSeed("limitless", "eth-above-5000-june", "ETH above $5,000 on June 30?"),
    MarketSeed("limitless", "sol-flips-eth-volume", "Solana DEX volume above Ethereum this month?"),
    MarketSeed("opinion", "10427", "Will a G7 country adopt a CBDC this year?"),
    MarketSeed("opinion", "10431", "Will global EV sales exceed 20 million this year?"),
    MarketSeed("predictfun", "2201", "Will the BNB Chain process 20M transactions in a day?"),
    MarketSeed("predictfun", "2208", "Will a memecoin enter the top 10 by market cap?"),
)


def _hash_int(*parts: object) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def price_bucket(at: datetime, bucket_seconds: int) -> int:
    return int(at.timestamp()) // max(1, bucket_seconds)


def reference_price(*, exchange: str, market_id: str, bucket: int, seed: int) -> Decimal:
    """The market's price in one time bucket: a pure function of (market, bucket, seed), in [0.02, 0.98].

    Integer cents throughout: a centre per market, a slow triangle wave around it and a little noise
    per bucket, so prices drift plausibly and tests can rely on 0.01 never being reached.
    """
    centre = 15 + _hash_int(seed, exchange, market_id, "centre") % 71  # 15..85
    period = 30 + _hash_int(seed, exchange, market_id, "period") % 91  # buckets
    phase = _hash_int(seed, exchange, market_id, "phase") % period
    position = (bucket + phase) % period
    wave = (16 * abs(2 * position - period)) // period - 8  # -8..8 cents
    noise = _hash_int(seed, exchange, market_id, bucket, "noise") % 5 - 2  # -2..2 cents
    cents = min(98, max(2, centre + wave + noise))
    return Decimal(cents).scaleb(-2)


def outcome_price(
    *, outcomes: tuple[str, ...] | list[str], outcome: str, yes_price: Decimal
) -> Decimal | None:
    """The price of one outcome when the first trades at ``yes_price``.

    A binary market's two outcomes are complements: No trades at 1 - Yes. A market with more outcomes
    has no single reference in this simulator, so only its first outcome is priced.
    """
    if outcome not in outcomes:
        return None
    index = list(outcomes).index(outcome)
    if index == 0:
        return yes_price
    if index == 1 and len(outcomes) == 2:
        return Decimal(1) - yes_price
    return None


def book_depth(
    *, exchange: str, market_id: str, bucket: int, seed: int, typical: int, outcome: str = "Yes"
) -> Decimal:
    """Shares a taker finds at the touch of one outcome's book in this bucket: typical +/- 50%, at least 1.

    Each outcome has its own book, so its depth is drawn separately (Yes keeps its historical draw).
    """
    parts: tuple[object, ...] = (seed, exchange, market_id, bucket, "depth")
    if outcome != "Yes":
        parts = (*parts, outcome)
    percent = 50 + _hash_int(*parts) % 101
    return Decimal(max(1, typical * percent // 100))
