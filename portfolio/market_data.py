"""Parsec's market data and a customer's account at Parsec, read through the one client.

Public data (a market, its book, a dry run) is cached briefly in Django's cache; a customer's balance
and positions are private and change with every fill, so they are read fresh, impersonated with the
customer's builder user id as orders are.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache

from builder_platform.failures import DomainError
from builder_platform.values import plain_decimal
from customers.models import Customer
from parsec import conf
from parsec.client import ParsecRejected, ParsecUnavailable
from parsec.contract import BALANCE_EXCHANGES


class MarketDataError(DomainError):
    status = 400


def parsec_refusal(error: ParsecRejected | ParsecUnavailable) -> MarketDataError:
    """Parsec's refusal in our error shape; an outage is our 503."""
    if isinstance(error, ParsecUnavailable):
        return MarketDataError(
            "Parsec cannot be reached right now; retry shortly.", code="service_unavailable", status=503
        )
    status = error.status if error.status in (400, 402, 404, 501) else 400
    return MarketDataError(error.message, code=error.code, status=status)


def _key(kind: str, *parts: object) -> str:
    raw = "\x1f".join(str(part) for part in parts)
    return f"portfolio:{kind}:v1:" + hashlib.sha256(raw.encode()).hexdigest()


def _number(value: Decimal | None) -> Decimal | None:
    return None if value is None else plain_decimal(value)


def market_detail(*, exchange: str, market_id: str) -> dict[str, Any]:
    """One market with each outcome's price, volume, end date, tick and minimum size; 404 when unknown."""
    key = _key("market", exchange, market_id)
    cached = cache.get(key)
    if cached is None:
        try:
            market = conf.get_client().get_market(exchange=exchange, market_id=market_id)
        except (ParsecRejected, ParsecUnavailable) as error:
            raise parsec_refusal(error) from None
        cached = {"market": None}
        if market is not None:
            cached["market"] = {
                "parsec_id": market.parsec_id,
                "exchange": market.exchange,
                "market_id": market.market_id,
                "question": market.question,
                "status": market.status,
                "outcomes": [
                    {"name": name, "price": _number(market.outcome_prices.get(name))}
                    for name in market.outcomes
                ],
                "volume": _number(market.volume),
                "end_date": market.end_date,
                "tick_size": _number(market.tick_size),
                "min_order_size": _number(market.min_order_size),
            }
        cache.set(key, cached, settings.PORTFOLIO_MARKET_CACHE_SECONDS)
    if cached["market"] is None:
        raise MarketDataError(
            f"No market {market_id} on {exchange}.", code="market_not_found", status=404, field="market_id"
        )
    return cached["market"]


def market_outcome(market: dict[str, Any], outcome: str | None) -> str:
    names = [item["name"] for item in market["outcomes"]]
    if outcome is None:
        return names[0]
    if outcome not in names:
        raise MarketDataError(
            f"outcome must be one of {', '.join(names)} for this market (names are case-sensitive).",
            code="validation_error",
            field="outcome",
        )
    return outcome


def order_book(*, exchange: str, market_id: str, outcome: str, depth: int) -> dict[str, Any]:
    key = _key("book", exchange, market_id, outcome, depth)
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        book = conf.get_client().get_orderbook(
            exchange=exchange, market_id=market_id, outcome=outcome, depth=depth
        )
    except (ParsecRejected, ParsecUnavailable) as error:
        raise parsec_refusal(error) from None
    result = {
        "exchange": exchange,
        "market_id": market_id,
        "outcome": outcome,
        "bids": [{"price": _number(price), "size": _number(size)} for price, size in book.bids],
        "asks": [{"price": _number(price), "size": _number(size)} for price, size in book.asks],
        "tick_size": _number(book.tick_size),
        "min_order_size": _number(book.min_order_size),
        "timestamp": book.timestamp,
    }
    cache.set(key, result, settings.PORTFOLIO_BOOK_CACHE_SECONDS)
    return result


def execution_price(
    *, exchange: str, market_id: str, outcome: str, side: str, amount: Decimal
) -> dict[str, Any]:
    key = _key("dry-run", exchange, market_id, outcome, side, amount)
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        run = conf.get_client().get_execution_price(
            exchange=exchange, market_id=market_id, outcome=outcome, side=side, amount=amount
        )
    except (ParsecRejected, ParsecUnavailable) as error:
        raise parsec_refusal(error) from None
    result = {
        "filled_amount": _number(run.filled_amount),
        "fully_filled": run.fully_filled,
        "levels_consumed": run.levels_consumed,
        "total_cost": _number(run.total_cost),
        "avg_price": _number(run.avg_price),
        "worst_price": _number(run.worst_price),
        "slippage": _number(run.slippage),
        "fee_estimate": _number(run.fee_estimate),
    }
    cache.set(key, result, settings.PORTFOLIO_BOOK_CACHE_SECONDS)
    return result


def _parsec_customer(customer: Customer) -> str:
    if not customer.parsec_customer_id:
        raise MarketDataError(
            "This customer is still being set up at Parsec; retry shortly.",
            code="customer_not_ready",
            status=409,
        )
    return customer.parsec_customer_id


def customer_balances(*, customer: Customer, exchange: str | None) -> list[dict[str, Any]]:
    """The customer's USDC balance on each tradable exchange (or one), in base units."""
    parsec_id = _parsec_customer(customer)
    exchanges = [exchange] if exchange else sorted(BALANCE_EXCHANGES)
    balances = []
    for name in exchanges:
        try:
            balance = conf.get_client().get_balance(exchange=name, customer_id=parsec_id)
        except (ParsecRejected, ParsecUnavailable) as error:
            raise parsec_refusal(error) from None
        balances.append({"exchange": name, "usdc": balance.usdc})
    return balances


def customer_parsec_prices(*, customer: Customer, exchanges: set[str]) -> dict[tuple[str, str, str], Decimal]:
    """Current prices of the customer's positions as Parsec values them: one call per exchange.

    An exchange Parsec cannot be asked about right now is left out; its positions fall back to the
    market data (and show no price if that cannot be read either).
    """
    prices: dict[tuple[str, str, str], Decimal] = {}
    if not customer.parsec_customer_id:
        return prices
    for exchange in sorted(exchanges):
        try:
            positions = conf.get_client().list_positions(
                exchange=exchange, customer_id=customer.parsec_customer_id
            )
        except (ParsecRejected, ParsecUnavailable):
            continue
        for position in positions:
            if position.current_price is not None:
                prices[(exchange, position.market_id, position.outcome)] = position.current_price
    return prices
