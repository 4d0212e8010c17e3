"""Intake: a partner's order checked as Parsec would check it, then stored awaiting its fee or queued."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from builder_platform import metrics
from builder_platform.inputs import text_problem
from builder_platform.inserts import row_insert
from customers.models import Customer, Partner
from halts.selectors import trading_stop_for
from orders import event_log, fee_axis, selectors
from orders.errors import OrderError
from orders.exchanges import TRADABLE_MARKET_STATUSES, exchange_can_trade, market_get
from orders.models import (
    OUTCOME_MAX_LENGTH,
    PRICE_DECIMAL_PLACES,
    SIZE_DECIMAL_PLACES,
    SIZE_LIMIT,
    Order,
    OrderEvent,
)
from orders.services.queueing import order_enqueue_submit
from orders.vocabulary import EventCause, OrderErrorCode
from parsec.client import ParsecRejected, ParsecUnavailable
from parsec.contract import ContractError, OrderRequest, validate_create_order, validate_order_for_market

S = Order.Status
BUILDER_FIELDS = ("fee_auth", "payer_address", "signer_address", "affiliate")
# Fields of Parsec's `params` object, which partners sometimes send at the top level.
PARAMS_FIELDS = ("order_type", "expiration")
# Text the order row keeps: held to the platform's text rule, at most its column's length.
TEXT_FIELDS = ("market_id", "outcome")
CUSTOMER_HEADER = "X-Builder-Customer-Id"  # where the partner names the customer (our id)


def _column_length(name: str) -> int:
    return Order._meta.get_field(name).max_length


def _decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def order_request_validate(*, exchange: str, body: Any, now: datetime) -> OrderRequest:
    """Parsec's own checks of a create-order body, then ours: builder fields and storable precision."""
    if isinstance(body, Mapping):
        misplaced = [name for name in PARAMS_FIELDS if name in body]
        if misplaced:
            # Parsec's body nests these under params; a flat body is the usual first mistake.
            name = misplaced[0]
            raise OrderError(
                f"{name} belongs inside params, not at the top level of the body: send "
                f'"params": {{"{name}": ...}} instead',
                code=OrderErrorCode.BAD_REQUEST,
                field=name,
            )
        for name in BUILDER_FIELDS:
            if name in body:
                raise OrderError(
                    f"{name} is set by the platform from the customer's wallets and fee authorization; "
                    "remove it from the body",
                    code=OrderErrorCode.BAD_REQUEST,
                    field=name,
                )
        for name in TEXT_FIELDS:
            value = body.get(name)
            problem = isinstance(value, str) and text_problem(value, max_length=_column_length(name))
            if problem:
                raise OrderError(f"{name} {problem}", code=OrderErrorCode.BAD_REQUEST, field=name)
    try:
        request = validate_create_order(exchange, body, now=int(now.timestamp()))
    except ContractError as error:
        raise OrderError(
            error.message, code=str(error.code), status=error.status, field=error.field
        ) from None
    # Refused rather than rounded: a stored order must be exactly what the partner asked for.
    if _decimal_places(request.price) > PRICE_DECIMAL_PLACES:
        raise OrderError(
            f"price must have at most {PRICE_DECIMAL_PLACES} digits after the decimal point",
            code=OrderErrorCode.BAD_REQUEST,
            field="price",
        )
    if _decimal_places(request.size) > SIZE_DECIMAL_PLACES:
        raise OrderError(
            f"size must have at most {SIZE_DECIMAL_PLACES} digits after the decimal point",
            code=OrderErrorCode.BAD_REQUEST,
            field="size",
        )
    if request.size >= SIZE_LIMIT:
        raise OrderError(
            f"size must be below {SIZE_LIMIT:,.0f}", code=OrderErrorCode.BAD_REQUEST, field="size"
        )
    # Texts that fit their columns: PostgreSQL refuses a longer outcome and any NUL character.
    limits = {"market_id": Order._meta.get_field("market_id").max_length, "outcome": OUTCOME_MAX_LENGTH}
    for name, limit in limits.items():
        text = getattr(request, name)
        if len(text) > limit:
            raise OrderError(
                f"{name} must be at most {limit} characters long", code=OrderErrorCode.BAD_REQUEST, field=name
            )
        if "\x00" in text:
            raise OrderError(
                f"{name} must not contain NUL characters", code=OrderErrorCode.BAD_REQUEST, field=name
            )
    return request


def customer_readiness_problems(customer: Customer) -> list[str]:
    """What the customer lacks to trade: an active status, a signer wallet, a payer wallet.

    `customer` comes from selectors.trading_customer_get (has_signer, has_payer annotated).
    """
    problems = []
    if customer.status != Customer.Status.ACTIVE or not customer.parsec_customer_id:
        problems.append(f"the customer is {customer.status}, not active")
    if not customer.has_signer:
        problems.append("no signer wallet is linked")
    if not customer.has_payer:
        problems.append("no payer wallet is known yet (onboarding has not finished)")
    return problems


@dataclass(frozen=True)
class OrderIntake:
    """A partner's order that passed every check, ready to be stored by order_create_commit."""

    partner: Partner
    customer: Customer
    request: OrderRequest
    now: datetime


def order_create(
    *, partner: Partner, customer_id: str | None, exchange: str, body: Any, now: datetime
) -> Order:
    """Validate a partner's order and store it: awaiting its fee authorization, or queued to be sent.

    Both steps, for a caller without an Idempotency-Key to keep (the web app). Raises OrderError, with
    the HTTP status Parsec would answer, before anything is stored.
    """
    intake = order_create_prepare(
        partner=partner, customer_id=customer_id, exchange=exchange, body=body, now=now
    )
    return order_create_commit(intake=intake)


def order_create_prepare(
    *, partner: Partner, customer_id: str | None, exchange: str, body: Any, now: datetime
) -> OrderIntake:
    """Every check of a new order, and the reads that may need HTTP (Parsec's /exchanges, the market, a
    stale escrow config), before any transaction. Raises OrderError; stores nothing."""
    request = order_request_validate(exchange=exchange, body=body, now=now)
    customer = _trading_customer(partner=partner, customer_id=customer_id, exchange=request.exchange)
    _exchange_check(exchange)
    order_market_check(request=request)
    with fee_axis.fee_refusals_as_order_errors():
        fee_axis.fee_config_ready(partner=partner, exchange=request.exchange, now=now)
    return OrderIntake(partner=partner, customer=customer, request=request, now=now)


def order_create_commit(*, intake: OrderIntake) -> Order:
    """Store a prepared order with its fee authorization and first event: database writes only.

    Runs inside the caller's transaction when there is one (the idempotency runner's, which stores the
    answer with it). Raises OrderError when the fee can no longer be requested (a partner fee the
    escrow no longer allows).
    """
    # No savepoint inside the caller's transaction: any failure here fails the whole create anyway, and
    # a savepoint is two more round trips per order.
    with transaction.atomic(savepoint=False), fee_axis.fee_refusals_as_order_errors():
        return _order_insert(
            partner=intake.partner, customer=intake.customer, request=intake.request, now=intake.now
        )


def _trading_customer(*, partner: Partner, customer_id: str | None, exchange: str) -> Customer:
    """The partner's customer the order is for, able to trade now: no halt covers it (global, its
    exchange, its partner, itself), and it is enabled and ready."""
    if not customer_id:
        raise OrderError(
            "send the customer's id (ours) in the X-Builder-Customer-Id header",
            code=OrderErrorCode.MISSING_PARAMETER,
            field=CUSTOMER_HEADER,
        )
    customer = selectors.trading_customer_cached(partner=partner, customer_id=customer_id)
    if customer is None:
        raise OrderError(
            "No customer with this id.", code=OrderErrorCode.NOT_FOUND, status=404, field=CUSTOMER_HEADER
        )
    stop = trading_stop_for(exchange=exchange, partner=partner, customer=customer)
    if stop is not None:
        raise stop
    if customer.status == Customer.Status.DISABLED:
        raise OrderError(
            "This customer is disabled, so it cannot place orders; its partner can enable it again "
            f"with PATCH /api/v1/customers/{customer.id} and status active.",
            code=OrderErrorCode.CUSTOMER_DISABLED,
            status=409,
        )
    problems = customer_readiness_problems(customer)
    if problems:
        raise OrderError(
            "The customer cannot trade yet: " + "; ".join(problems) + ".",
            code=OrderErrorCode.CUSTOMER_NOT_READY,
            status=409,
        )
    return customer


def _exchange_check(exchange: str) -> None:
    """Parsec's /exchanges (cached) must say that orders can be created there."""
    try:
        tradable = exchange_can_trade(exchange)
    except (ParsecUnavailable, ParsecRejected):
        raise OrderError(
            "Parsec's list of exchanges cannot be read right now; retry shortly.",
            code=OrderErrorCode.SERVICE_UNAVAILABLE,
            status=503,
        ) from None
    if not tradable:
        raise OrderError(
            f"{exchange} does not allow creating orders at Parsec (data only)",
            code=OrderErrorCode.NOT_SUPPORTED,
            status=501,
        )


def order_market_check(*, request: OrderRequest) -> None:
    """Refuse now what Parsec would refuse once the order reaches it: an unknown market, an outcome the
    market does not have, a price off its tick, a size below its minimum or a fraction of a contract.

    The market is read through the short-lived cache /markets uses. When Parsec cannot say, the answer
    is 503: accepting the order would be a guess.
    """
    try:
        market = market_get(exchange=request.exchange, market_id=request.market_id)
    except ParsecRejected as error:
        if error.status not in (400, 404):
            # 401/403 (our own key refused), 501: nothing the partner can fix; say we cannot check.
            raise _market_unavailable() from None
        market = None  # Parsec refused the id itself: it has no market by that id
    except ParsecUnavailable:
        raise _market_unavailable() from None
    if market is None:
        raise OrderError(
            f"There is no market {request.market_id} on {request.exchange}; "
            "take market_id from GET /api/v1/markets.",
            code=OrderErrorCode.MARKET_NOT_FOUND,
            status=404,
            field="market_id",
        )
    if market["status"] not in TRADABLE_MARKET_STATUSES:
        raise OrderError(
            f"Market {request.market_id} is {market['status']}: it takes no orders.",
            code=OrderErrorCode.BAD_REQUEST,
            field="market_id",
        )
    try:
        validate_order_for_market(
            exchange=request.exchange,
            outcome=request.outcome,
            price=request.price,
            size=request.size,
            outcomes=tuple(market["outcomes"]),
            tick_size=market["tick_size"],
            min_order_size=market["min_order_size"],
        )
    except ContractError as error:
        raise OrderError(
            error.message, code=str(error.code), status=error.status, field=error.field
        ) from None


def _market_unavailable() -> OrderError:
    return OrderError(
        "Parsec cannot be asked about this market right now, so the order cannot be checked; retry shortly.",
        code=OrderErrorCode.SERVICE_UNAVAILABLE,
        status=503,
    )


def _order_insert(*, partner: Partner, customer: Customer, request: OrderRequest, now: datetime) -> Order:
    fields = {
        "partner": partner,
        "customer": customer,
        "exchange": request.exchange,
        "market_id": request.market_id,
        "outcome": request.outcome,
        "side": request.side,
        "price": request.price,
        "size": request.size,
    }
    fee_authorization = fee_axis.fee_requested(order_fields=fields, now=now)
    status = S.AWAITING_FEE_AUTH if fee_authorization is not None else S.QUEUED
    # Fixed INSERT statements (row_insert): the ORM's compiler was a large share of a create's CPU.
    order = row_insert(
        Order(
            **fields,
            order_type=request.order_type,
            expiration=request.expiration,
            status=status,
            fee_authorization=fee_authorization,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    row_insert(
        OrderEvent(order=order, from_status="", to_status=status, cause=EventCause.CREATED, created_at=now)
    )
    event_log.order_created(order=order, now=now)
    metrics.order_created(exchange=order.exchange)
    if status == S.QUEUED:
        order_enqueue_submit(order_id=order.id)
    return order
