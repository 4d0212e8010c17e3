"""JSON endpoints behind the pages: session-authenticated, CSRF-protected, in the platform's error shape."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from builder_platform.values import plain_number
from customers.services import CustomerError, WalletProofError, wallet_challenge_create
from fees.services import FeeError, escrow_config_current, fee_applies, fee_quote
from orders.errors import OrderError
from orders.models import Order
from orders.services.cancel import order_cancel_request
from orders.services.fee_authorization import order_fee_authorization_submit
from orders.services.intake import order_create
from parsec.client import ParsecError, ParsecRejected
from parsec.contract import EXCHANGES, FEE_ESCROW_EXCHANGES, MAX_DECIMAL_PLACES, MAX_SIZE
from ratelimits.limits import RATE_LIMITED_CODE, sign_in_challenge_take
from web import markets as market_data
from web import selectors
from web.errors import WebErrorCode, answers_refusals, error_response, read_json
from web.presenters import account_json, fee_request_json, order_json, usdc_display
from web.referral_links import referral_cookie_code
from web.services import web_sign_in
from web.session import json_requires_customer, session_customer, session_sign_in


def text_field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""


# --- Sign-in -------------------------------------------------------------------------------------------


@require_POST
@answers_refusals
def session_challenge(request: HttpRequest) -> JsonResponse:
    """Issue an EIP-4361 message for the wallet's address (single use, expires in a few minutes)."""
    if settings.RATE_LIMITS_ENABLED:
        # Anyone may ask, for any address: the client's address is what bounds how many.
        take = sign_in_challenge_take(request=request, now=time.time())
        if not take.allowed:
            refused = error_response(
                status=429,
                code=RATE_LIMITED_CODE,
                message="Too many sign-in attempts from your network; "
                f"retry in {take.retry_after_seconds} s.",
            )
            refused["Retry-After"] = str(take.retry_after_seconds)
            return refused
    body = read_json(request)
    chain_id = body.get("chain_id")
    if chain_id != settings.SIWE_CHAIN_ID:
        return error_response(
            status=400,
            code=WebErrorCode.WRONG_CHAIN,
            message=f"Switch your wallet to chain id {settings.SIWE_CHAIN_ID} before signing in.",
            fields={"chain_id": f"Expected {settings.SIWE_CHAIN_ID}."},
        )
    try:
        challenge = wallet_challenge_create(address=text_field(body, "address"), now=timezone.now())
    except CustomerError as exc:
        # A refusal of the address itself names the field; a limit (429) is about the asking.
        fields = {"address": exc.message} if exc.status == 400 else None
        return error_response(status=exc.status, code=exc.code, message=exc.message, fields=fields)
    return JsonResponse(
        {"message": challenge.message, "expires_at": challenge.expires_at.isoformat()}, status=201
    )


@require_POST
@answers_refusals
def session_verify(request: HttpRequest) -> JsonResponse:
    """Check the signed message, sign the session in, and create the customer on first sign-in."""
    body = read_json(request)
    try:
        customer, created = web_sign_in(
            address=text_field(body, "address"),
            message=body.get("message") if isinstance(body.get("message"), str) else "",
            signature=text_field(body, "signature"),
            now=timezone.now(),
            referral_code=referral_cookie_code(request),
        )
    except WalletProofError as exc:
        # Whatever the proof's fault (a used challenge included), the page starts sign-in again: 400.
        return error_response(
            status=400,
            code=exc.code,
            message=f"Sign-in failed: {exc.message} Press Connect wallet to start again.",
        )
    session_sign_in(request, customer)
    return JsonResponse({"created": created, "status": customer.status, "next": reverse("web:home")})


@require_GET
@json_requires_customer
def account_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse(account_json(session_customer(request)))


# --- Markets ----------------------------------------------------------------------------------------


@require_GET
def markets_for_ticket(request: HttpRequest) -> JsonResponse:
    """Tradable markets of one exchange, for the order ticket's market list."""
    exchange = request.GET.get("exchange", "")
    if exchange and exchange not in EXCHANGES:
        # A mistake in the request, not an outage: said before Parsec is asked.
        message = f"There is no exchange called {exchange!r}; use one of {', '.join(EXCHANGES)}."
        return error_response(
            status=400, code=WebErrorCode.EXCHANGE_NOT_FOUND, message=message, fields={"exchange": message}
        )
    try:
        listing = market_data.market_listing(
            exchange=exchange, search=None, cursor=None, limit=market_data.TICKET_MARKETS_LIMIT
        )
    except ParsecError as error:
        if isinstance(error, ParsecRejected) and error.status == 400:
            return error_response(status=400, code=error.code, message=error.message)
        return error_response(
            status=503,
            code=WebErrorCode.MARKETS_UNAVAILABLE,
            message="Markets cannot be loaded right now. Try again shortly.",
        )
    return JsonResponse({"markets": [market_data.market_json(market) for market in listing.markets]})


# --- Orders ---------------------------------------------------------------------------------------------

ORDERS_DEFAULT_LIMIT = 50
ORDERS_MAX_LIMIT = 100
# Where the contract's field names (params.order_type) show on the ticket (order_type).
TICKET_FIELDS = {
    "exchange": "exchange",
    "market_id": "market_id",
    "outcome": "outcome",
    "side": "side",
    "price": "price",
    "size": "size",
    "params.order_type": "order_type",
    "params.expiration": "expiration",
    "params": "order_type",
}
NOT_READY_MESSAGE = "Your trading account is still being set up. Orders can be placed once it is ready."


def _questions_for(orders: list[Order]) -> dict[tuple[str, str], str]:
    return market_data.market_questions({(order.exchange, order.market_id) for order in orders})


def _order_payload(order: Order) -> dict[str, Any]:
    question = _questions_for([order]).get((order.exchange, order.market_id))
    payload = order_json(order, question=question)
    payload["fee_request"] = fee_request_json(order, question=question)
    return payload


def _order_error_response(error: OrderError) -> JsonResponse:
    if error.code == "customer_not_ready":
        return error_response(status=error.status, code=error.code, message=NOT_READY_MESSAGE)
    field = TICKET_FIELDS.get(error.field or "")
    if field is None and error.code == "not_supported":
        field = "exchange"  # the exchange itself does not take orders
    sentence = error.message[:1].upper() + error.message[1:]
    if not sentence.endswith("."):
        sentence += "."
    return error_response(
        status=error.status, code=error.code, message=sentence, fields={field: sentence} if field else None
    )


def _ticket_number(body: Mapping[str, Any], name: str, fields: dict[str, str]) -> Decimal | None:
    """The ticket's text as an exact Decimal; the contract then judges its range like the API's."""
    raw = body.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        fields[name] = f"Enter the {name}."
        return None
    try:
        value = Decimal(str(raw).strip())
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite():
        fields[name] = f"Enter the {name} as a number, such as {'0.55' if name == 'price' else '10'}."
        return None
    return value


def _parsec_body(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The ticket's fields as Parsec's create-order body (what a partner would POST), and typing errors."""
    fields: dict[str, str] = {}
    price = _ticket_number(body, "price", fields)
    size = _ticket_number(body, "size", fields)
    order_type = text_field(body, "order_type") or "gtc"
    params: dict[str, Any] = {"order_type": order_type}
    if order_type == "gtd":
        expiration = body.get("expiration")
        if isinstance(expiration, int) and not isinstance(expiration, bool):
            params["expiration"] = str(expiration)
        else:
            fields["expiration"] = "Choose the date and time at which the order expires."
    return {
        "market_id": text_field(body, "market_id") or None,
        "outcome": text_field(body, "outcome") or None,
        "side": text_field(body, "side") or None,
        "price": price,
        "size": size,
        "params": params,
    }, fields


def _customer_order(request: HttpRequest, order_id: str) -> Order | None:
    return selectors.customer_order_get(customer=session_customer(request), order_id=order_id)


def _order_not_found() -> JsonResponse:
    return error_response(status=404, code=WebErrorCode.NOT_FOUND, message="No such order in your account.")


@json_requires_customer
@answers_refusals
def orders_collection(request: HttpRequest) -> JsonResponse:
    """GET: the signed-in customer's newest orders (polled by the live table). POST: place an order."""
    if request.method == "GET":
        return _orders_list(request)
    if request.method == "POST":
        return _order_place(request)
    return error_response(status=405, code=WebErrorCode.METHOD_NOT_ALLOWED, message="Use GET or POST.")


def _orders_list(request: HttpRequest) -> JsonResponse:
    raw_limit = request.GET.get("limit", "")
    limit = int(raw_limit) if raw_limit.isascii() and raw_limit.isdigit() else ORDERS_DEFAULT_LIMIT
    limit = max(1, min(limit, ORDERS_MAX_LIMIT))
    orders = list(selectors.customer_orders(customer=session_customer(request))[:limit])
    questions = _questions_for(orders)
    return JsonResponse(
        {
            "orders": [
                order_json(order, question=questions.get((order.exchange, order.market_id)))
                for order in orders
            ]
        }
    )


def _order_place(request: HttpRequest) -> JsonResponse:
    customer = session_customer(request)
    body = read_json(request)
    parsec_body, typing_errors = _parsec_body(body)
    if typing_errors:
        return error_response(
            status=400,
            code=WebErrorCode.BAD_REQUEST,
            message="Some fields need your attention.",
            fields=typing_errors,
        )
    try:
        # The same service, and so the same validation, as the partner API's POST /api/v1/orders.
        order = order_create(
            partner=customer.partner,
            customer_id=str(customer.pk),
            exchange=text_field(body, "exchange"),
            body=parsec_body,
            now=timezone.now(),
        )
    except OrderError as error:  # the fee's refusals too (escrow config unreachable, wallets missing)
        return _order_error_response(error)
    return JsonResponse(
        _order_payload(selectors.customer_order_get(customer=customer, order_id=order.pk)), status=201
    )


@require_GET
@json_requires_customer
def order_detail(request: HttpRequest, order_id: str) -> JsonResponse:
    order = _customer_order(request, order_id)
    if order is None:
        return _order_not_found()
    return JsonResponse(_order_payload(order))


@require_POST
@json_requires_customer
def order_cancel(request: HttpRequest, order_id: str) -> JsonResponse:
    order = _customer_order(request, order_id)
    if order is None:
        return _order_not_found()
    try:
        order_cancel_request(order=order, now=timezone.now())
    except OrderError as error:
        return _order_error_response(error)
    return JsonResponse(_order_payload(_customer_order(request, order_id)))


@require_POST
@json_requires_customer
@answers_refusals
def order_fee_authorization(request: HttpRequest, order_id: str) -> JsonResponse:
    """The wallet's PullFee signature: verified by the fees service, then the order is queued."""
    order = _customer_order(request, order_id)
    if order is None:
        return _order_not_found()
    body = read_json(request)
    signature = text_field(body, "signature")
    if not signature:
        return error_response(status=400, code=WebErrorCode.BAD_REQUEST, message="The signature is missing.")
    try:
        order_fee_authorization_submit(order=order, signature=signature, now=timezone.now())
    except OrderError as error:
        return _order_error_response(error)
    except FeeError as error:
        return error_response(
            status=error.status,
            code=error.code,
            message=f"The fee signature was not accepted. {error.message}",
        )
    return JsonResponse(_order_payload(_customer_order(request, order_id)))


def _too_precise(value: Decimal) -> bool:
    # The contract's limit for prices and sizes; past it the fee arithmetic would have to round.
    exponent = value.normalize().as_tuple().exponent
    return isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES


@require_GET
@json_requires_customer
@answers_refusals
def quote(request: HttpRequest) -> JsonResponse:
    """The builder fee an order would carry, from the fees quote service, before it is placed."""
    customer = session_customer(request)
    exchange = request.GET.get("exchange", "")
    fields: dict[str, str] = {}
    price = _ticket_number(request.GET, "price", fields)
    size = _ticket_number(request.GET, "size", fields)
    if (
        fields
        or not (0 < price < 1)
        or not (0 < size < MAX_SIZE)
        or _too_precise(price)
        or _too_precise(size)
    ):
        return error_response(
            status=400,
            code=WebErrorCode.BAD_REQUEST,
            message="Enter a price between 0 and 1 and a size to see the fee.",
        )
    if not fee_applies(partner=customer.partner, exchange=exchange):
        summary = "No builder fee on this order."
        if exchange not in FEE_ESCROW_EXCHANGES:
            summary = "No builder fee: fees are collected through the escrow on Polymarket orders only."
        return JsonResponse({"fee_bps": 0, "fee_amount": "0", "summary": summary})
    config = escrow_config_current(now=timezone.now(), may_refresh=True)  # a FeeError answers as it is (503)
    fee = fee_quote(partner=customer.partner, exchange=exchange, price=price, size=size, config=config)
    notional = plain_number(price * size)
    if not fee.charged:
        summary = "No builder fee on this order."
    else:
        amount = f"Builder fee: {usdc_display(fee.fee_amount)} USDC"
        if fee.minimum_applied:
            # The rate would come to less than the minimum: say which figure is charged, and why.
            basis = f"the minimum fee ({fee.fee_bps} bps of this {notional} USDC order would be less)"
        else:
            basis = f"{fee.fee_bps} basis points of the order's {notional} USDC value"
        summary = f"{amount}, {basis}. Your wallet will ask you to authorize it after you place the order."
    return JsonResponse({"fee_bps": fee.fee_bps, "fee_amount": str(fee.fee_amount), "summary": summary})
