"""JSON behind the market page: its order book and the ticket's expected fill (session-authenticated)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from parsec.contract import EXCHANGES, MAX_DECIMAL_PLACES, MAX_SIZE
from portfolio import market_data
from portfolio.expected_fill import expected_fill
from portfolio.market_data import MarketDataError
from web.errors import error_response
from web.portfolio_pages import BOOK_LEVELS, book_rows
from web.presenters import plain_number, usdc_display
from web.session import json_requires_customer, session_customer


def _market_refusal(error: MarketDataError) -> JsonResponse:
    return error_response(status=error.status, code=error.code, message=error.message, fields=error.fields)


def _market_params(request: HttpRequest) -> tuple[str, str, str] | JsonResponse:
    exchange = request.GET.get("exchange", "")
    market_id = request.GET.get("market_id", "")
    if exchange not in EXCHANGES or not market_id:
        return error_response(status=400, code="bad_request", message="Name an exchange and a market.")
    try:
        market = market_data.market_detail(exchange=exchange, market_id=market_id)
        outcome = market_data.market_outcome(market, request.GET.get("outcome") or None)
    except MarketDataError as error:
        return _market_refusal(error)
    return exchange, market_id, outcome


@require_GET
@json_requires_customer
def orderbook_json(request: HttpRequest) -> JsonResponse:
    params = _market_params(request)
    if isinstance(params, JsonResponse):
        return params
    exchange, market_id, outcome = params
    try:
        book = market_data.order_book(
            exchange=exchange, market_id=market_id, outcome=outcome, depth=BOOK_LEVELS
        )
    except MarketDataError as error:
        return _market_refusal(error)
    return JsonResponse({"outcome": outcome, **book_rows(book)})


def _number(raw: str) -> Decimal | None:
    """The ticket's text as a Decimal the contract can hold: finite, at most MAX_DECIMAL_PLACES places."""
    try:
        value = Decimal(raw.strip()) if raw and len(raw) <= 40 else None
    except ArithmeticError:
        return None
    if value is None or not value.is_finite():
        return None
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        return None
    return value


def _usdc(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


@require_GET
@json_requires_customer
def expected_fill_json(request: HttpRequest) -> JsonResponse:
    """The ticket's expected fill: sentences for people, and the figures they come from."""
    params = _market_params(request)
    if isinstance(params, JsonResponse):
        return params
    exchange, market_id, outcome = params
    side = request.GET.get("side", "")
    price, size = _number(request.GET.get("price", "")), _number(request.GET.get("size", ""))
    if (
        side not in ("buy", "sell")
        or price is None
        or size is None
        or not 0 < price < 1
        or not 0 < size < MAX_SIZE
    ):
        return error_response(
            status=400,
            code="bad_request",
            message="Enter a price between 0 and 1 and a size to see the expected fill.",
        )
    customer = session_customer(request)
    try:
        expected = expected_fill(
            customer=customer,
            exchange=exchange,
            market_id=market_id,
            outcome=outcome,
            side=side,
            price=price,
            size=size,
            taker_fee_bps=settings.PARSEC_SIM_TAKER_FEE_BPS if settings.PARSEC_SIMULATOR else 0,
            now=timezone.now(),
        )
    except MarketDataError as error:
        return _market_refusal(error)
    verb = "buy" if side == "buy" else "sell"
    if expected.market_price is None:
        fill = "The book has nothing to trade against right now; the order would rest at your limit."
    elif not expected.marketable:
        fill = (
            f"Nothing fills at once: the market is at {plain_number(expected.market_price)}, so the order "
            f"rests at {plain_number(price)} until the price reaches it."
        )
    else:
        fill = (
            f"Expected fill now: {plain_number(expected.fills_now)} at an average "
            f"{plain_number(expected.average_price or expected.market_price)}"
        )
        fill += (
            f"; the other {plain_number(expected.rests)} would rest at {plain_number(price)}."
            if expected.rests
            else "."
        )
    fees = (
        f"Fees: {_usdc(expected.exchange_fee)} USDC exchange fee, "
        f"{usdc_display(expected.builder_fee)} USDC builder fee."
    )
    total = (
        f"Total cost: {_usdc(expected.total_cost)} USDC at most, if all of it fills."
        if side == "buy"
        else f"You would receive about {_usdc(expected.total_cost)} USDC, if all of it fills."
    )
    warning = ""
    if expected.far_through:
        market_price = plain_number(expected.market_price)
        limit = plain_number(price)
        warning = (
            f"Your limit {limit} is far through the market at {market_price}: the order fills at the "
            f"market price, not at your limit, and only as much as the book holds now "
            f"({plain_number(expected.fills_now)}). Any rest would wait at {limit} and could fill there. "
            f"To {verb} at the market, set a limit near {market_price}."
        )
    refusal = ""
    if expected.balance is not None and expected.funds_needed > expected.balance:
        refusal = (
            f"Your balance of {usdc_display(expected.balance)} USDC cannot pay this order: it needs "
            f"{usdc_display(expected.funds_needed)} USDC. Lower the size or the price."
        )
    return JsonResponse(
        {
            "fill": fill,
            "fees": fees,
            "total": total,
            "warning": warning,
            "refusal": refusal,
            "figures": {
                "market_price": None
                if expected.market_price is None
                else plain_number(expected.market_price),
                "fills_now": plain_number(expected.fills_now),
                "average_price": None
                if expected.average_price is None
                else plain_number(expected.average_price),
                "rests": plain_number(expected.rests),
                "exchange_fee": plain_number(expected.exchange_fee),
                "builder_fee": str(expected.builder_fee),
                "total_cost": plain_number(expected.total_cost),
                "funds_needed": str(expected.funds_needed),
                "balance": None if expected.balance is None else str(expected.balance),
            },
        }
    )
