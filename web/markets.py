"""Tradable exchanges and markets for the pages, read through the orders app's short-lived Parsec cache."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache

from orders.exchanges import exchanges_list, market_get, markets_page

MARKETS_PAGE_SIZE = 50
TICKET_MARKETS_LIMIT = 100  # markets offered in the order ticket's list, per exchange
TRADABLE_MARKET_STATUSES = frozenset({"active", "open"})
# Questions are remembered far longer than listings: an order row keeps showing its market's question
# on every refresh without the orders endpoint ever calling Parsec.
QUESTION_CACHE_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class MarketListing:
    markets: tuple[dict[str, Any], ...]
    next_cursor: str | None


def tradable_exchanges() -> list[dict[str, Any]]:
    """Exchanges on which Parsec says orders can be placed right now (`has.create_order`)."""
    return [exchange for exchange in exchanges_list() if exchange["has"].get("create_order")]


def _question_key(exchange: str, market_id: str) -> str:
    return f"web:market-question:{exchange}:{market_id}"


question_cache_key = _question_key  # for the pages that learn a question outside a listing


def market_listing(
    *, exchange: str | None, search: str | None, cursor: str | None, limit: int = MARKETS_PAGE_SIZE
) -> MarketListing:
    """One page of tradable markets: on an exchange that accepts orders, and open for trading.

    Raises ParsecError when Parsec cannot answer and nothing is cached.
    """
    tradable = {exchange["id"] for exchange in tradable_exchanges()}
    page = markets_page(exchange=exchange or None, search=search or None, cursor=cursor or None, limit=limit)
    markets = tuple(
        market
        for market in page["markets"]
        if market["exchange"] in tradable and market["status"] in TRADABLE_MARKET_STATUSES
    )
    cache.set_many(
        {_question_key(market["exchange"], market["market_id"]): market["question"] for market in markets},
        QUESTION_CACHE_SECONDS,
    )
    return MarketListing(markets=markets, next_cursor=page["next_cursor"])


def market_find(*, exchange: str, market_id: str) -> dict[str, Any] | None:
    """A tradable market by its exchange-native id: Parsec's one-market lookup, cached."""
    market = market_get(exchange=exchange, market_id=market_id)
    tradable = {item["id"] for item in tradable_exchanges()}
    if (
        market is None
        or market["exchange"] not in tradable
        or market["status"] not in TRADABLE_MARKET_STATUSES
    ):
        return None
    return market


def market_questions(pairs: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Known questions for (exchange, market_id) pairs, from the cache only (never a Parsec call)."""
    keys = {_question_key(exchange, market_id): (exchange, market_id) for exchange, market_id in pairs}
    found = cache.get_many(list(keys))
    return {keys[key]: question for key, question in found.items()}


BINARY_OUTCOMES = ("Yes", "No")


def _text(value: Any) -> str | None:
    return None if value is None else f"{Decimal(str(value)).normalize():f}"


def outcome_prices(market: dict[str, Any]) -> dict[str, str | None]:
    """{outcome: price or None}: the market's own per-outcome prices when it has them; otherwise, on a
    binary Yes/No market, the Yes price and No = 1 - Yes (exact, in Decimal); None where unknown."""
    given = market.get("outcome_prices")
    if given:
        return {outcome: _text(given.get(outcome)) for outcome in market["outcomes"]}
    prices: dict[str, str | None] = dict.fromkeys(market["outcomes"])
    price = market.get("price")
    if price is not None and tuple(market["outcomes"]) == BINARY_OUTCOMES:
        yes = Decimal(str(price))
        prices.update({"Yes": _text(yes), "No": _text(Decimal(1) - yes)})
    return prices


def market_json(market: dict[str, Any]) -> dict[str, Any]:
    return {
        "exchange": market["exchange"],
        "market_id": market["market_id"],
        "question": market["question"],
        "outcomes": list(market["outcomes"]),
        "price": None if market["price"] is None else str(market["price"]),
        # Passed on only when the listing has it; the ticket derives No = 1 - Yes itself otherwise.
        "outcome_prices": (
            None
            if not market.get("outcome_prices")
            else {outcome: _text(value) for outcome, value in market["outcome_prices"].items()}
        ),
    }
