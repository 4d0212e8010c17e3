"""What can be traded where: Parsec's /exchanges and /markets, cached briefly in Django's cache."""

from __future__ import annotations

import hashlib
import logging
import time
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache

from parsec import conf
from parsec.client import Market, ParsecRejected, ParsecUnavailable
from parsec.contract import EXCHANGES, FEE_ESCROW_EXCHANGES, ORDER_TYPE_SUPPORT, ORDER_TYPES

logger = logging.getLogger(__name__)

_EXCHANGES_CACHE_KEY = "orders:parsec-exchanges:v1"
# Market statuses that take orders (Parsec says "active"; some exchanges say "open").
TRADABLE_MARKET_STATUSES = frozenset({"active", "open"})


def exchanges_list() -> list[dict[str, Any]]:
    """Every exchange Parsec lists, with its capability flags and the order types it supports.

    Read from Parsec at most once per ORDER_EXCHANGES_CACHE_SECONDS per process cache; raises
    ParsecUnavailable when Parsec cannot be read and nothing is cached.
    """
    cached = cache.get(_EXCHANGES_CACHE_KEY)
    if cached is not None:
        return cached
    exchanges = [
        {
            "id": exchange.id,
            "name": exchange.name,
            "has": dict(exchange.has),
            # Parsec's rule, kept in the contract: gtc everywhere, the others where the matrix says.
            "order_types": [
                order_type for order_type in ORDER_TYPES if exchange.id in ORDER_TYPE_SUPPORT[order_type]
            ],
            "fee_escrow": exchange.id in FEE_ESCROW_EXCHANGES,
        }
        for exchange in conf.get_client().list_exchanges()
        if exchange.id in EXCHANGES
    ]
    cache.set(_EXCHANGES_CACHE_KEY, exchanges, settings.ORDER_EXCHANGES_CACHE_SECONDS)
    return exchanges


def exchange_can_trade(exchange: str) -> bool:
    """True when Parsec says orders can be created on this exchange (has.create_order)."""
    return any(item["id"] == exchange and item["has"].get("create_order") for item in exchanges_list())


def exchanges_cache_clear() -> None:
    cache.delete(_EXCHANGES_CACHE_KEY)


def _number_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.normalize()


def _market_json(market: Market) -> dict[str, Any]:
    return {
        "parsec_id": market.parsec_id,
        "exchange": market.exchange,
        "market_id": market.market_id,
        "question": market.question,
        "outcomes": list(market.outcomes),
        "price": market.price,
        "outcome_prices": {
            outcome: _number_or_none(market.outcome_prices.get(outcome)) for outcome in market.outcomes
        },
        "tick_size": _number_or_none(market.tick_size),
        "min_order_size": _number_or_none(market.min_order_size),
        "status": market.status,
    }


def markets_page(
    *, exchange: str | None, search: str | None, cursor: str | None, limit: int | None
) -> dict[str, Any]:
    """One page of Parsec's /markets, as {markets, next_cursor}; cached briefly per query."""
    raw_key = "\x1f".join(str(part) for part in (exchange, search, cursor, limit))
    key = "orders:parsec-markets:v2:" + hashlib.sha256(raw_key.encode()).hexdigest()
    cached = cache.get(key)
    if cached is not None:
        return cached
    page = conf.get_client().list_markets(
        exchanges=[exchange] if exchange else None, search=search, cursor=cursor, limit=limit
    )
    result = {"markets": [_market_json(market) for market in page.markets], "next_cursor": page.next_cursor}
    cache.set(key, result, settings.ORDER_MARKETS_CACHE_SECONDS)
    return result


# A market stays usable this many times its freshness after it goes stale: while one request refreshes
# it, the others answer from the stale copy instead of all calling Parsec at once. In the embedded mode
# those calls land on the same server; if every thread of a worker made one, none would be left to
# answer them until the read timeout.
MARKET_STALE_FACTOR = 6


def market_cache_key(*, exchange: str, market_id: str) -> str:
    raw_key = f"{exchange}\x1f{market_id}"
    return "orders:parsec-market:v2:" + hashlib.sha256(raw_key.encode()).hexdigest()


def market_cache_put(*, exchange: str, market_id: str, market: dict[str, Any] | None) -> None:
    """Remember one market (None: Parsec has no such market), fresh for ORDER_MARKETS_CACHE_SECONDS."""
    fresh_seconds = settings.ORDER_MARKETS_CACHE_SECONDS
    cache.set(
        market_cache_key(exchange=exchange, market_id=market_id),
        {"market": market, "fresh_until": time.time() + fresh_seconds},
        max(1, fresh_seconds * MARKET_STALE_FACTOR),
    )


def market_get(*, exchange: str, market_id: str) -> dict[str, Any] | None:
    """One market as in markets_page, or None when Parsec has no such market (misses are cached too).

    Fresh for ORDER_MARKETS_CACHE_SECONDS; once stale, one caller per process refreshes it while the
    others keep the stale copy, which is also kept if Parsec cannot be read. Raises ParsecUnavailable (or
    ParsecRejected) when Parsec cannot be asked and nothing is cached.
    """
    key = market_cache_key(exchange=exchange, market_id=market_id)
    entry = cache.get(key)
    if entry is not None:
        if entry["fresh_until"] > time.time():
            return entry["market"]
        if not cache.add(key + ":refreshing", True, timeout=30):
            return entry["market"]  # another request is refreshing it
    try:
        market = conf.get_client().get_market(exchange=exchange, market_id=market_id)
    except (ParsecUnavailable, ParsecRejected) as error:
        if entry is None:
            raise
        logger.warning("market %s:%s kept from cache: %s", exchange, market_id, error)
        return entry["market"]
    finally:
        if entry is not None:
            cache.delete(key + ":refreshing")
    result = None if market is None else _market_json(market)
    market_cache_put(exchange=exchange, market_id=market_id, market=result)
    return result
