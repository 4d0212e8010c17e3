"""A customer's positions and P&L from our own fills, and the partner's fills across orders."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import django_filters
from django.db.models import QuerySet

from customers.models import Customer, Partner
from orders import exchanges as market_cache
from orders.models import Fill
from orders.selectors import UtcIsoDateTimeFilter
from parsec.client import ParsecRejected, ParsecUnavailable
from parsec.contract import EXCHANGES
from portfolio.market_data import customer_parsec_prices
from portfolio.pnl import ZERO, PositionPnl, Trade, position_pnl


def _fallback_price(exchange: str, market_id: str, outcome: str) -> Decimal | None:
    try:
        market = market_cache.market_get(exchange=exchange, market_id=market_id)
    except (ParsecRejected, ParsecUnavailable):
        return None
    if market is None:
        return None
    return market["outcome_prices"].get(outcome)


def customer_positions(*, customer: Customer, exchange: str | None = None) -> dict[str, Any]:
    """Every market/outcome the customer has traded, oldest first, with P&L, and the totals.

    One query for the fills (however many), then one Parsec call per exchange for current prices.
    """
    fills = Fill.objects.filter(order__customer=customer)
    if exchange:
        fills = fills.filter(order__exchange=exchange)
    trades: dict[tuple[str, str, str], list[Trade]] = defaultdict(list)
    rows = fills.order_by("created_at", "id").values_list(
        "order__exchange", "order__market_id", "order__outcome", "order__side", "price", "size", "fee"
    )
    for fill_exchange, market_id, outcome, side, price, size, fee in rows:
        trades[(fill_exchange, market_id, outcome)].append(Trade(side=side, price=price, size=size, fee=fee))
    prices = customer_parsec_prices(customer=customer, exchanges={key[0] for key in trades})
    positions = []
    for key, position_trades in trades.items():
        held = sum((t.size if t.side == "buy" else -t.size for t in position_trades), ZERO)
        price = prices.get(key)
        if price is None and held != 0:
            price = _fallback_price(*key)
        pnl = position_pnl(position_trades, current_price=price)
        positions.append({"exchange": key[0], "market_id": key[1], "outcome": key[2], "pnl": pnl})
    return {"positions": positions, "totals": positions_totals([p["pnl"] for p in positions])}


def positions_totals(pnls: list[PositionPnl]) -> dict[str, Decimal | None]:
    """Sums over positions; a value or unrealised P&L is unknown (None) if any part of it is."""
    values = [pnl.market_value for pnl in pnls]
    unrealised = [pnl.unrealised for pnl in pnls]
    return {
        "market_value": None if None in values else sum(values, ZERO),
        "net_cost": sum((pnl.net_cost for pnl in pnls), ZERO),
        "realised_pnl": sum((pnl.realised for pnl in pnls), ZERO),
        "unrealised_pnl": None if None in unrealised else sum(unrealised, ZERO),
    }


class FillFilter(django_filters.FilterSet):
    customer = django_filters.UUIDFilter(field_name="order__customer_id")
    exchange = django_filters.ChoiceFilter(field_name="order__exchange", choices=[(e, e) for e in EXCHANGES])
    market_id = django_filters.CharFilter(field_name="order__market_id")
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Fill
        fields = ["customer", "exchange", "market_id", "created_after", "created_before"]


def partner_fills(*, partner: Partner) -> QuerySet[Fill]:
    """All of the partner's fills with their order's market fields: one query per page."""
    return Fill.objects.filter(order__partner=partner).select_related("order")
