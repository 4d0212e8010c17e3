"""The simulator's reads: who a key is, the end-user it acts for, markets, orders and fills."""

from __future__ import annotations

import hmac
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from builder_platform.values import uuid_or_none
from parsec.contract import BadRequest, ContractError, ErrorCode
from parsec.sim.models import SimBuilder, SimBuilderUser, SimFill, SimMarket, SimOrder
from parsec.sim.services import key_hash, order_not_found, sim_builder_ensure, sim_markets_ensure

Principal = SimBuilder | SimBuilderUser

ORDER_STATUS_FILTERS = {
    "open": SimOrder.LIVE_STATUSES,
    "closed": (SimOrder.Status.FILLED, SimOrder.Status.CANCELLED, SimOrder.Status.REJECTED),
    "all": tuple(SimOrder.Status),
}


def sim_principal_for_key(api_key: str) -> Principal | None:
    """The builder or builder user this key belongs to; the configured builder key needs no row yet."""
    if not api_key:
        return None
    digest = key_hash(api_key)
    builder = SimBuilder.objects.filter(key_hash=digest).first()
    if builder is not None:
        return builder
    configured = settings.PARSEC_SIMULATOR_API_KEY
    if configured and hmac.compare_digest(api_key.encode(), configured.encode()):
        return sim_builder_ensure(api_key=api_key, name="Embedded builder")
    return SimBuilderUser.objects.select_related("builder").filter(key_hash=digest).first()


def sim_customer_for(builder: SimBuilder, customer_id: str) -> SimBuilderUser:
    """The builder's own end-user with this id; 403 for an unknown or foreign one, as Parsec answers."""
    not_owned = ContractError(
        "end-user not found or not owned by this builder", status=403, code=ErrorCode.UNAUTHORIZED
    )
    parsed = uuid_or_none(customer_id)
    if parsed is None:
        raise not_owned
    customer = SimBuilderUser.objects.filter(builder=builder, customer_id=parsed).first()
    if customer is None:
        raise not_owned
    return customer


def sim_markets_page(
    *, exchanges: list[str], search: str | None, status: str, cursor: str | None, limit: int
) -> tuple[list[SimMarket], str | None, int]:
    """(one page of markets, the next page's cursor, how many match in all)."""
    if not SimMarket.objects.exists():
        sim_markets_ensure()
    markets = SimMarket.objects.filter(status=status).order_by("id")
    if exchanges:
        markets = markets.filter(exchange__in=exchanges)
    if search:
        markets = markets.filter(Q(question__icontains=search) | Q(market_id__icontains=search))
    total = markets.count()
    if cursor:
        if (
            not cursor.startswith("m")
            or not cursor[1:].isascii()
            or not cursor[1:].isdigit()
            or len(cursor) > 20
        ):
            raise BadRequest("cursor is not one this API returned", field="cursor")
        markets = markets.filter(id__gt=int(cursor[1:]))
    page = list(markets[: limit + 1])
    next_cursor = f"m{page[limit - 1].id}" if len(page) > limit else None
    return page[:limit], next_cursor, total


def sim_market_get(*, exchange: str, market_id: str) -> SimMarket | None:
    market = SimMarket.objects.filter(exchange=exchange, market_id=market_id).first()
    if market is None:
        # Seeded on first use; a concurrent request may have seeded between our reads: read again.
        if not SimMarket.objects.exists():
            sim_markets_ensure()
        market = SimMarket.objects.filter(exchange=exchange, market_id=market_id).first()
    return market


def sim_orders_list(
    *,
    customer: SimBuilderUser,
    exchange: str,
    status: str,
    market_id: str | None,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> QuerySet[SimOrder]:
    orders = SimOrder.objects.filter(
        customer=customer, exchange=exchange, status__in=ORDER_STATUS_FILTERS[status]
    ).select_related("market")
    if market_id:
        orders = orders.filter(market__market_id=market_id)
    if start is not None:
        orders = orders.filter(created_at__gte=start)
    if end is not None:
        orders = orders.filter(created_at__lte=end)
    return orders.order_by("-created_at", "-id")[:limit]


def sim_order_get(*, customer: SimBuilderUser, exchange: str, order_id: str) -> SimOrder:
    order = (
        SimOrder.objects.select_related("market")
        .filter(id=order_id, customer=customer, exchange=exchange)
        .first()
    )
    if order is None:
        raise order_not_found()
    return order


def sim_fills_list(
    *, customer: SimBuilderUser, exchange: str, market_id: str | None, limit: int
) -> QuerySet[SimFill]:
    fills = SimFill.objects.filter(order__customer=customer, order__exchange=exchange).select_related(
        "order__market"
    )
    if market_id:
        fills = fills.filter(order__market__market_id=market_id)
    return fills.order_by("-created_at", "-fill_id")[:limit]
