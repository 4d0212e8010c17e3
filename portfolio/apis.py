"""The partner REST API for positions, balances, fills, one market, its order book and execution prices.

Every customer read is scoped to the calling partner: another partner's customer answers the same 404 as
a missing one. Numbers are exact JSON numbers (never through a float); USDC balances are integer base
units as strings, as the fee endpoints write them, with the decimal USDC beside them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from builder_platform.api import PAGE_PARAMETERS, ApiError, CreatedCursorPagination, query_parameters_check
from builder_platform.openapi import EXACT_NUMBER, error_responses
from builder_platform.values import plain_decimal
from customers.models import Customer
from customers.selectors import customer_get
from orders.serializers import ExactJSONRenderer
from parsec.contract import BALANCE_EXCHANGES, EXCHANGES, MAX_SIZE, ORDER_SIDES, ORDERBOOK_MAX_DEPTH
from portfolio import market_data, selectors
from portfolio.market_data import MarketDataError
from portfolio.serializers import (
    BalanceSerializer,
    ExecutionPriceSerializer,
    MarketDetailSerializer,
    OrderBookSerializer,
    PartnerFillSerializer,
    PositionsSerializer,
)

WEB_BOOK_DEPTH = 10


def _refusal(error: MarketDataError) -> ApiError:
    return ApiError(status_code=error.status, code=error.code, message=error.message, fields=error.fields)


def _customer(request: Request, customer_id: str) -> Customer:
    customer = customer_get(partner=request.auth.partner, customer_id=customer_id)
    if customer is None:
        raise ApiError(status_code=404, code="not_found", message="No customer with this id.")
    return customer


def _exchange(params, *, allowed=EXCHANGES, required: bool = False) -> str | None:
    exchange = params.get("exchange")
    if exchange is None:
        if required:
            raise ApiError(
                status_code=400,
                code="validation_error",
                message="exchange is required.",
                fields={"exchange": "exchange is required."},
            )
        return None
    if exchange not in allowed:
        sentence = f"exchange must be one of {', '.join(sorted(allowed))}."
        raise ApiError(
            status_code=400, code="validation_error", message=sentence, fields={"exchange": sentence}
        )
    return exchange


def _number_or_none(value: Decimal | None) -> Decimal | None:
    return None if value is None else plain_decimal(value)


def _usdc(base_units: int) -> dict[str, str]:
    return {"amount": str(base_units), "usdc": format(Decimal(base_units).scaleb(-6), "f")}


# --- Positions -------------------------------------------------------------------------------------


def positions_json(customer: Customer, data: dict[str, Any]) -> dict[str, Any]:
    positions = []
    for item in data["positions"]:
        pnl = item["pnl"]
        positions.append(
            {
                "exchange": item["exchange"],
                "market_id": item["market_id"],
                "outcome": item["outcome"],
                "size": plain_decimal(pnl.size),
                "average_price": _number_or_none(pnl.average_price),
                "current_price": _number_or_none(pnl.current_price),
                "market_value": _number_or_none(pnl.market_value),
                "net_cost": plain_decimal(pnl.net_cost),
                "realised_pnl": plain_decimal(pnl.realised),
                "unrealised_pnl": _number_or_none(pnl.unrealised),
            }
        )
    totals = {name: _number_or_none(value) for name, value in data["totals"].items()}
    return {"customer_id": str(customer.id), "positions": positions, "totals": totals}


class CustomerPositionsApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="customers_positions",
        tags=["portfolio"],
        summary="A customer's positions and P&L",
        description="Every market and outcome the customer has traded through us, oldest first: size, "
        "average price, the current price (as Parsec values the position), market value, and P&L from "
        "our own fills by the average-cost method, exchange fees included. Not cached.",
        parameters=[OpenApiParameter("exchange", enum=list(EXCHANGES), description="Only this exchange.")],
        responses={
            200: PositionsSerializer,
            **error_responses({400: "A bad exchange (validation_error).", 404: "No such customer."}),
        },
    )
    def get(self, request: Request, customer_id: str) -> Response:
        query_parameters_check(request.query_params, allowed={"exchange"})
        exchange = _exchange(request.query_params)
        customer = _customer(request, customer_id)
        data = selectors.customer_positions(customer=customer, exchange=exchange)
        return Response(positions_json(customer, data))


# --- Balance ---------------------------------------------------------------------------------------


class CustomerBalanceApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="customers_balance",
        tags=["portfolio"],
        summary="A customer's USDC balance",
        description="The customer's balance at each tradable exchange (or one), read from Parsec for the "
        "customer; not cached. An order the balance cannot pay is refused by Parsec (the order ends "
        "rejected with code insufficient_funds).",
        parameters=[
            OpenApiParameter("exchange", enum=sorted(BALANCE_EXCHANGES), description="Only this exchange.")
        ],
        responses={
            200: BalanceSerializer,
            **error_responses(
                {
                    400: "A bad exchange (validation_error).",
                    404: "No such customer.",
                    409: "The customer is not set up at Parsec yet (customer_not_ready).",
                    503: "Parsec cannot be reached right now.",
                }
            ),
        },
    )
    def get(self, request: Request, customer_id: str) -> Response:
        query_parameters_check(request.query_params, allowed={"exchange"})
        exchange = _exchange(request.query_params, allowed=BALANCE_EXCHANGES)
        customer = _customer(request, customer_id)
        try:
            balances = market_data.customer_balances(customer=customer, exchange=exchange)
        except MarketDataError as error:
            raise _refusal(error) from None
        return Response(
            {
                "customer_id": str(customer.id),
                "balances": [
                    {"exchange": item["exchange"], "balance": _usdc(item["usdc"])} for item in balances
                ],
            }
        )


# --- Fills -----------------------------------------------------------------------------------------


class FillListApi(APIView):
    renderer_classes = [ExactJSONRenderer]
    pagination_class = CreatedCursorPagination  # read by the OpenAPI schema too

    @extend_schema(
        operation_id="fills_list",
        tags=["portfolio"],
        summary="List fills",
        description="Every fill of the partner's orders, newest first, one page at a time (follow "
        "next_cursor); a fixed number of queries per page at any page size. Filters combine; a bad value "
        "of any query parameter answers 400 naming it.",
        parameters=[
            OpenApiParameter("customer", OpenApiTypes.UUID, description="Only this customer's fills."),
            OpenApiParameter("exchange", enum=list(EXCHANGES), description="Only fills on this exchange."),
            OpenApiParameter("market_id", str, description="Only fills on this market."),
            OpenApiParameter(
                "created_after", OpenApiTypes.DATETIME, description="Filled at or after (ISO 8601)."
            ),
            OpenApiParameter(
                "created_before", OpenApiTypes.DATETIME, description="Filled before (ISO 8601)."
            ),
        ],
        responses={
            200: PartnerFillSerializer(many=True),
            **error_responses({400: "A bad filter, limit or cursor (code validation_error)."}),
        },
    )
    def get(self, request: Request) -> Response:
        query_parameters_check(
            request.query_params, allowed={*selectors.FillFilter.base_filters, *PAGE_PARAMETERS}
        )
        filterset = selectors.FillFilter(
            request.query_params, queryset=selectors.partner_fills(partner=request.auth.partner)
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        paginator = CreatedCursorPagination()
        page = paginator.paginate_queryset(filterset.qs, request, view=self)
        return paginator.get_paginated_response(PartnerFillSerializer(page, many=True).data)


# --- Markets, order books, execution prices ---------------------------------------------------------


def _path_market(exchange: str, market_id: str) -> dict[str, Any]:
    if exchange not in EXCHANGES:
        raise ApiError(
            status_code=404, code="exchange_not_found", message=f"No exchange {exchange}; see GET /exchanges."
        )
    try:
        return market_data.market_detail(exchange=exchange, market_id=market_id)
    except MarketDataError as error:
        raise _refusal(error) from None


def _market_json(market: dict[str, Any]) -> dict[str, Any]:
    return {
        **market,
        "end_date": None
        if market["end_date"] is None
        else serializers.DateTimeField().to_representation(market["end_date"]),
    }


class MarketDetailApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="markets_retrieve",
        tags=["markets"],
        summary="One market",
        description="One market with both outcomes' prices, volume, end date, tick size and minimum "
        "size; cached briefly.",
        responses={
            200: MarketDetailSerializer,
            **error_responses(
                {404: "No such exchange or market (market_not_found).", 503: "Parsec cannot be reached."}
            ),
        },
    )
    def get(self, request: Request, exchange: str, market_id: str) -> Response:
        query_parameters_check(request.query_params, allowed=set())
        return Response(_market_json(_path_market(exchange, market_id)))


def _depth(params) -> int:
    raw = params.get("depth")
    if raw is None:
        return WEB_BOOK_DEPTH
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= ORDERBOOK_MAX_DEPTH:
        sentence = f"depth must be a whole number from 1 to {ORDERBOOK_MAX_DEPTH}."
        raise ApiError(status_code=400, code="validation_error", message=sentence, fields={"depth": sentence})
    return int(raw)


def _book_json(book: dict[str, Any]) -> dict[str, Any]:
    stamp = book["timestamp"]
    return {
        **book,
        "timestamp": None if stamp is None else serializers.DateTimeField().to_representation(stamp),
    }


class MarketOrderBookApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="markets_orderbook",
        tags=["markets"],
        summary="A market's order book",
        description="The top levels of bids and asks of one outcome (the first when none is named); "
        "cached for about a second.",
        parameters=[
            OpenApiParameter("outcome", str, description="The outcome's exact name, e.g. Yes."),
            OpenApiParameter(
                "depth",
                {"type": "integer", "minimum": 1, "maximum": ORDERBOOK_MAX_DEPTH, "default": WEB_BOOK_DEPTH},
                description="Levels per side.",
            ),
        ],
        responses={
            200: OrderBookSerializer,
            **error_responses(
                {
                    400: "A bad outcome or depth (validation_error).",
                    404: "No such exchange or market (market_not_found).",
                    503: "Parsec cannot be reached.",
                }
            ),
        },
    )
    def get(self, request: Request, exchange: str, market_id: str) -> Response:
        query_parameters_check(request.query_params, allowed={"outcome", "depth"})
        depth = _depth(request.query_params)
        market = _path_market(exchange, market_id)
        try:
            outcome = market_data.market_outcome(market, request.query_params.get("outcome"))
            book = market_data.order_book(
                exchange=exchange, market_id=market_id, outcome=outcome, depth=depth
            )
        except MarketDataError as error:
            raise _refusal(error) from None
        return Response(_book_json(book))


def _amount(params) -> Decimal:
    raw = params.get("amount")
    sentence = "amount must be a positive number of contracts with at most 18 decimal places."
    try:
        amount = Decimal(raw) if raw is not None and len(raw) <= 40 else None
    except ArithmeticError:
        amount = None
    exponent = amount.as_tuple().exponent if amount is not None and amount.is_finite() else None
    if amount is None or not isinstance(exponent, int) or exponent < -18 or amount <= 0 or amount >= MAX_SIZE:
        raise ApiError(
            status_code=400, code="validation_error", message=sentence, fields={"amount": sentence}
        )
    return amount


class ExecutionPriceApi(APIView):
    renderer_classes = [ExactJSONRenderer]

    @extend_schema(
        operation_id="execution_price",
        tags=["markets"],
        summary="Dry-run an order over the book",
        description="Parsec's execution-price dry run: what a marketable order of amount contracts would "
        "fill now, at what average and worst price, and the exchange fee; nothing is placed. The builder "
        "fee of a real order comes with it when it is placed. Cached for about a second.",
        parameters=[
            OpenApiParameter("exchange", enum=list(EXCHANGES), required=True),
            OpenApiParameter("market_id", str, required=True),
            OpenApiParameter("outcome", str, description="The outcome's exact name; the first when omitted."),
            OpenApiParameter("side", enum=list(ORDER_SIDES), required=True),
            OpenApiParameter("amount", {**EXACT_NUMBER, "exclusiveMinimum": 0}, required=True),
        ],
        responses={
            200: ExecutionPriceSerializer,
            **error_responses(
                {
                    400: "A missing or bad parameter (validation_error), named.",
                    404: "No such market (market_not_found).",
                    503: "Parsec cannot be reached.",
                }
            ),
        },
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        query_parameters_check(params, allowed={"exchange", "market_id", "outcome", "side", "amount"})
        exchange = _exchange(params, required=True)
        problems = {name: f"{name} is required." for name in ("market_id", "side") if name not in params}
        if "side" in params and params["side"] not in ORDER_SIDES:
            problems["side"] = "side must be buy or sell."
        if problems:
            raise ApiError(
                status_code=400,
                code="validation_error",
                message=next(iter(problems.values())),
                fields=problems,
            )
        amount = _amount(params)
        market = _path_market(exchange, params["market_id"])
        try:
            outcome = market_data.market_outcome(market, params.get("outcome"))
            run = market_data.execution_price(
                exchange=exchange,
                market_id=market["market_id"],
                outcome=outcome,
                side=params["side"],
                amount=amount,
            )
        except MarketDataError as error:
            raise _refusal(error) from None
        return Response(
            {
                "exchange": exchange,
                "market_id": market["market_id"],
                "outcome": outcome,
                "side": params["side"],
                "amount": plain_decimal(amount),
                **run,
            }
        )
