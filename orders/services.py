"""Order writes: intake, fee authorization, submission to Parsec, cancel, the outbox sweep, key purge.

Calls to Parsec never run inside a transaction: a service claims its order with a conditional update
(committed), talks to Parsec, then records the answer in a short transaction of its own.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from builder_platform.inputs import text_problem
from customers.models import Customer, Partner
from orders import event_log, fee_axis, selectors
from orders.exchanges import TRADABLE_MARKET_STATUSES, exchange_can_trade, market_get
from orders.models import (
    PRICE_DECIMAL_PLACES,
    SIZE_DECIMAL_PLACES,
    SIZE_LIMIT,
    IdempotencyKey,
    Order,
    OrderEvent,
)
from orders.transitions import order_transition
from parsec import conf
from parsec.client import Order as ParsecOrder
from parsec.client import ParsecInDoubt, ParsecRejected, ParsecUnavailable
from parsec.contract import (
    ContractError,
    FeeAuth,
    OrderRequest,
    OrderStatus,
    validate_create_order,
    validate_order_for_market,
)
from workers.selectors import worker_alive_since

logger = logging.getLogger(__name__)

S = Order.Status
BUILDER_FIELDS = ("fee_auth", "payer_address", "signer_address", "affiliate")
# Fields of Parsec's `params` object, which partners sometimes send at the top level.
PARAMS_FIELDS = ("order_type", "expiration")
OUTCOME_MAX_LENGTH = Order._meta.get_field("outcome").max_length
PARSEC_STATUSES = frozenset(status.value for status in OrderStatus)
# Text the order row keeps: held to the platform's text rule, at most its column's length.
TEXT_FIELDS = ("market_id", "outcome")
# How long a claim blocked by an identical intent in flight waits before it is tried again.
INTENT_BUSY_RETRY_SECONDS = 5
# Work that asks for a reconcile of one customer (a lost answer, a fill on arrival, a cancel) waits this
# long, so a burst of such orders shares one reconcile run.
RECONCILE_SOON_SECONDS = 1.0
# A live order whose cancel was asked this long ago and is still live gets its cancel sent again.
CANCEL_RESEND_AFTER_SECONDS = 30
# Parsec's words when an escrow order id is presented twice: the escrow refuses the second use, which
# proves the first create arrived.
# Live statuses only move forward; an answer that says otherwise is older than what we know.
_LIVE_RANK = {S.PENDING: 0, S.OPEN: 1, S.PARTIALLY_FILLED: 2}
_ESCROW_ID_REUSED = re.compile(r"order_id.*already used|already used.*order", re.IGNORECASE)


class OrderError(Exception):
    """An expected refusal: HTTP status, machine code, a sentence to act on, and the field at fault."""

    def __init__(self, message: str, *, code: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.field = field


# --- Enqueueing ------------------------------------------------------------------------------------


def _send_after_commit(task_name: str, *args: str, countdown: float | None = None) -> None:
    """Queue a task once the rows it reads are committed.

    A broker outage must not fail work that already committed: the order row is the record of what
    must happen, and the outbox sweep / reconciliation pick it up.
    """

    def send() -> None:
        from orders import tasks  # tasks import this module

        task = {
            "submit": tasks.order_submit_task,
            "cancel": tasks.order_cancel_task,
            "reconcile_customer": tasks.order_reconcile_customer_task,
        }[task_name]
        payload = list(args)
        if task_name == "reconcile_customer":
            payload.append(timezone.now().isoformat())  # a run started after this covers it
        try:
            task.apply_async(args=payload, countdown=countdown)
        except BrokerUnavailable:
            logger.warning("broker unavailable; %s %s left for the sweep", task_name, args)

    transaction.on_commit(send)


def order_enqueue_submit(*, order_id: uuid.UUID | str) -> None:
    _send_after_commit("submit", str(order_id))


def order_enqueue_cancel(*, order_id: uuid.UUID | str) -> None:
    _send_after_commit("cancel", str(order_id))


def order_enqueue_reconcile(*, customer_id: uuid.UUID | str, exchange: str) -> None:
    """Reconcile this customer soon; requests within a second share one run (beat covers any miss)."""
    if cache.add(f"orders:reconcile-soon:{customer_id}:{exchange}", True, timeout=RECONCILE_SOON_SECONDS):
        _send_after_commit("reconcile_customer", str(customer_id), exchange, countdown=RECONCILE_SOON_SECONDS)


# --- Intake ----------------------------------------------------------------------------------------


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
                code="bad_request",
                field=name,
            )
        for name in BUILDER_FIELDS:
            if name in body:
                raise OrderError(
                    f"{name} is set by the platform from the customer's wallets and fee authorization; "
                    "remove it from the body",
                    code="bad_request",
                    field=name,
                )
        for name in TEXT_FIELDS:
            value = body.get(name)
            problem = isinstance(value, str) and text_problem(value, max_length=_column_length(name))
            if problem:
                raise OrderError(f"{name} {problem}", code="bad_request", field=name)
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
            code="bad_request",
            field="price",
        )
    if _decimal_places(request.size) > SIZE_DECIMAL_PLACES:
        raise OrderError(
            f"size must have at most {SIZE_DECIMAL_PLACES} digits after the decimal point",
            code="bad_request",
            field="size",
        )
    if request.size >= SIZE_LIMIT:
        raise OrderError(f"size must be below {SIZE_LIMIT:,.0f}", code="bad_request", field="size")
    # Texts that fit their columns: PostgreSQL refuses a longer outcome and any NUL character.
    limits = {"market_id": Order._meta.get_field("market_id").max_length, "outcome": OUTCOME_MAX_LENGTH}
    for name, limit in limits.items():
        text = getattr(request, name)
        if len(text) > limit:
            raise OrderError(
                f"{name} must be at most {limit} characters long", code="bad_request", field=name
            )
        if "\x00" in text:
            raise OrderError(f"{name} must not contain NUL characters", code="bad_request", field=name)
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


def order_create(
    *,
    partner: Partner,
    customer_id: str | None,
    exchange: str,
    body: Any,
    now: datetime,
    on_created: Callable[[Order], None] | None = None,
) -> Order:
    """Validate a partner's order and store it: awaiting its fee authorization, or queued to be sent.

    Raises OrderError (with the HTTP status Parsec would answer), or the fees service's FeeError, before
    anything is stored. What may need HTTP (Parsec's /exchanges, a stale escrow config) runs before the
    transaction; `on_created` runs inside it, so what it writes commits with the order or not at all.
    """
    request = order_request_validate(exchange=exchange, body=body, now=now)
    if not customer_id:
        raise OrderError(
            "send the customer's id (ours) in the X-Builder-Customer-Id header",
            code="missing_parameter",
            field="X-Builder-Customer-Id",
        )
    customer = selectors.trading_customer_get(partner=partner, customer_id=customer_id)
    if customer is None:
        raise OrderError(
            "No customer with this id.", code="not_found", status=404, field="X-Builder-Customer-Id"
        )
    if customer.status == Customer.Status.DISABLED:
        raise OrderError(
            "This customer is disabled, so it cannot place orders; its partner can enable it again "
            f"with PATCH /api/v1/customers/{customer.id} and status active.",
            code="customer_disabled",
            status=409,
        )
    problems = customer_readiness_problems(customer)
    if problems:
        raise OrderError(
            "The customer cannot trade yet: " + "; ".join(problems) + ".",
            code="customer_not_ready",
            status=409,
        )
    try:
        tradable = exchange_can_trade(exchange)
    except (ParsecUnavailable, ParsecRejected):
        raise OrderError(
            "Parsec's list of exchanges cannot be read right now; retry shortly.",
            code="service_unavailable",
            status=503,
        ) from None
    if not tradable:
        raise OrderError(
            f"{exchange} does not allow creating orders at Parsec (data only)",
            code="not_supported",
            status=501,
        )
    order_market_check(request=request)
    fee_axis.fee_config_ready(partner=partner, exchange=request.exchange, now=now)
    with transaction.atomic():
        order = _order_insert(partner=partner, customer=customer, request=request, now=now)
        if on_created is not None:
            on_created(order)
    return order


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
            code="market_not_found",
            status=404,
            field="market_id",
        )
    if market["status"] not in TRADABLE_MARKET_STATUSES:
        raise OrderError(
            f"Market {request.market_id} is {market['status']}: it takes no orders.",
            code="bad_request",
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
        code="service_unavailable",
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
    order = Order.objects.create(
        **fields,
        order_type=request.order_type,
        expiration=request.expiration,
        status=status,
        fee_authorization=fee_authorization,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
    )
    OrderEvent.objects.create(order=order, from_status="", to_status=status, cause="created", created_at=now)
    event_log.order_created(order_id=order.id, now=now)
    if status == S.QUEUED:
        order_enqueue_submit(order_id=order.id)
    return order


def order_fee_authorization_submit(*, order: Order, signature: str, now: datetime) -> Order:
    """Check the customer's signature of the order's PullFee and queue the order for submission.

    Raises OrderError, or the fees service's own error for a bad signature. A deadline already passed
    fails the order (and expires the authorization) before the error is raised.
    """
    if order.status != S.AWAITING_FEE_AUTH or order.fee_authorization_id is None:
        raise OrderError(
            f"This order is {order.status}; it is not waiting for a fee authorization.",
            code="fee_authorization_not_expected",
            status=409,
        )
    if Customer.objects.filter(pk=order.customer_id, status=Customer.Status.DISABLED).exists():
        raise OrderError(
            "This order's customer is disabled, so its fee authorization is not accepted; the order "
            "fails at its deadline, or cancel it now.",
            code="customer_disabled",
            status=409,
        )
    deadline = fee_deadline(order)
    if deadline is not None and deadline <= now:
        order_fail(
            order_id=order.id, from_statuses=[S.AWAITING_FEE_AUTH], cause="fee_deadline_passed", now=now
        )
        raise OrderError(
            "The fee authorization's deadline has passed; the order has failed. Place it again.",
            code="fee_authorization_expired",
            status=409,
        )
    if deadline is not None and now >= order_give_up_at(order):
        # Accepted now, it could never be sent: Parsec must still find the deadline ahead when it checks.
        margin = settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS
        order_fail(
            order_id=order.id, from_statuses=[S.AWAITING_FEE_AUTH], cause="fee_deadline_too_close", now=now
        )
        raise OrderError(
            f"The fee authorization's deadline is {int((deadline - now).total_seconds())} s away, too close "
            f"to send the order before it (an order is not sent within {margin} s of its deadline); the "
            "order has failed. Place it again and sign the new fee authorization sooner.",
            code="fee_deadline_too_close",
            status=409,
        )
    with transaction.atomic():
        try:
            fee_axis.fee_signed(fee_authorization_id=order.fee_authorization_id, signature=signature, now=now)
        except fee_axis.FeeError as error:
            if error.error_code != "fee_auth_used":
                raise
            # A concurrent submission signed it between our read of the order and this one: the same
            # answer as every other loser of the race, which finds the order already queued.
            raise OrderError(
                "This order is no longer waiting for a fee authorization.",
                code="fee_authorization_not_expected",
                status=409,
            ) from None
        queued = order_transition(
            order_id=order.id,
            from_statuses=[S.AWAITING_FEE_AUTH],
            to_status=S.QUEUED,
            cause="fee_authorization_signed",
            now=now,
            next_attempt_at=now,
        )
        if not queued:
            raise OrderError(
                "This order is no longer waiting for a fee authorization.",
                code="fee_authorization_not_expected",
                status=409,
            )
        order_enqueue_submit(order_id=order.id)
    order.refresh_from_db()
    return order


# --- Time limits -------------------------------------------------------------------------------------


def fee_deadline(order: Order) -> datetime | None:
    """When the order's fee authorization stops being valid; None for an order without a fee."""
    if order.fee_authorization_id is None:
        return None
    return order.fee_authorization.deadline


def order_give_up_at(order: Order) -> datetime:
    """After this moment the order is not sent (again): it fails instead."""
    deadline = fee_deadline(order)
    if deadline is not None:
        # Parsec must still find the deadline in the future when it checks it.
        return deadline - timedelta(seconds=settings.ORDER_FEE_DEADLINE_MARGIN_SECONDS)
    return order.created_at + timedelta(seconds=settings.ORDER_SUBMIT_GIVE_UP_SECONDS)


def _give_up_reason(order: Order, *, now: datetime) -> tuple[str, str]:
    """Why a queued order is past its give-up time: the cause recorded in its event, and a sentence.

    `no_worker` when it was never tried and every worker alive now started after it was created: it
    waited because no worker ran (the broker was away, or the workers had died), not because Parsec
    refused it.
    """
    limit = (
        "its fee authorization's deadline"
        if order.fee_authorization_id is not None
        else f"{settings.ORDER_SUBMIT_GIVE_UP_SECONDS} s after it was created (ORDER_SUBMIT_GIVE_UP_SECONDS)"
    )
    waited = int((now - order.created_at).total_seconds())
    if order.submit_attempts == 0:
        running_since = worker_alive_since(now=now)
        if running_since is None or running_since > order.created_at:
            return "no_worker", (
                f"No worker was running to send the order: it waited {waited} s and the platform gives "
                f"up at {limit}."
            )
        return "not_sent_in_time", (
            f"The order waited {waited} s behind other work and was never sent; "
            f"the platform gives up at {limit}."
        )
    return "deadline_passed", f"Parsec could not be reached in time; the platform gives up at {limit}."


# --- Final states without Parsec ------------------------------------------------------------------------


def order_fail(
    *,
    order_id: uuid.UUID | str,
    from_statuses: list[str],
    cause: str,
    now: datetime,
    error_code: str = "",
    error_message: str = "",
) -> bool:
    """End an order that Parsec never accepted; its fee authorization can no longer be used."""
    with transaction.atomic():
        failed = order_transition(
            order_id=order_id,
            from_statuses=from_statuses,
            to_status=S.FAILED,
            cause=cause,
            now=now,
            detail={"code": error_code} if error_code else None,
            submitting_since=None,
            next_attempt_at=None,
            settled_at=now,
            last_error_code=error_code or cause,
            last_error_message=error_message[:2000],
        )
        if failed:
            order = Order.objects.select_related("fee_authorization").get(id=order_id)
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
    return failed


# --- Submission ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    outcome: str  # not_claimed, busy, accepted, rejected, retry, failed, unknown
    retry_at: datetime | None = None


def _builder_fields(order: Order) -> dict[str, str]:
    """payer_address, signer_address, affiliate for a fee-bearing order; none for a fee-less one.

    The affiliate (the partner's address, else the escrow config's default) was fixed on the fee
    authorization when the fee was quoted, together with its share: sending the same address keeps the
    on-chain split and our ledger's in agreement.
    """
    if order.fee_authorization_id is None:
        return {}
    authorization = order.fee_authorization
    fields = {"payer_address": authorization.payer, "signer_address": authorization.signer}
    if authorization.affiliate_address:
        fields["affiliate"] = authorization.affiliate_address
    return fields


def order_parsec_body(order: Order) -> dict[str, Any]:
    """The create-order body sent to Parsec: the partner's intent plus the builder fields recorded."""
    fee_auth = None
    if order.fee_authorization_id is not None:
        authorization = order.fee_authorization
        fee_auth = FeeAuth(
            order_id=authorization.escrow_order_id,
            payer=authorization.payer,
            fee_amount=int(authorization.fee_amount),
            deadline=int(fee_deadline(order).timestamp()),
            signature=authorization.signature,
        )
    return OrderRequest(
        exchange=order.exchange,
        market_id=order.market_id,
        outcome=order.outcome,
        side=order.side,
        # As the partner wrote them (0.65, not the column's 0.650000): the same numbers either way.
        price=order.price.normalize(),
        size=order.size.normalize(),
        order_type=order.order_type,
        expiration=order.expiration,
        fee_auth=fee_auth,
        payer_address=order.payer_address or None,
        signer_address=order.signer_address or None,
        affiliate=order.affiliate or None,
    ).to_json()


def _order_for_submit(order_id: uuid.UUID | str) -> Order | None:
    return (
        Order.objects.select_related("partner", "customer", "fee_authorization").filter(id=order_id).first()
    )


def order_submit(
    *, order_id: uuid.UUID | str, now: datetime, backoff: Callable[[int, float | None], float]
) -> SubmitResult:
    """Claim a queued order, send it to Parsec once, and record what Parsec answered.

    ``backoff(attempts, retry_after)`` is the caller's retry policy: seconds until the next attempt
    after Parsec was unavailable. Safe to call twice: only one caller wins the claim.
    """
    order = _order_for_submit(order_id)
    if order is None or order.status != S.QUEUED:
        return SubmitResult("not_claimed")
    if order.next_attempt_at is not None and order.next_attempt_at > now:
        return SubmitResult("not_claimed", retry_at=order.next_attempt_at)
    give_up_at = order_give_up_at(order)
    if now >= give_up_at:
        cause, message = _give_up_reason(order, now=now)
        order_fail(order_id=order.id, from_statuses=[S.QUEUED], cause=cause, now=now, error_message=message)
        return SubmitResult("failed")
    if not order.customer.parsec_customer_id:
        order_fail(
            order_id=order.id,
            from_statuses=[S.QUEUED],
            cause="customer_not_provisioned",
            now=now,
            error_message="The customer has no Parsec account.",
        )
        return SubmitResult("failed")
    builder_fields = _builder_fields(order)
    try:
        claimed = order_transition(
            order_id=order.id,
            from_statuses=[S.QUEUED],
            to_status=S.SUBMITTING,
            cause="claimed",
            now=now,
            detail={"attempt": order.submit_attempts + 1},
            condition=Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
            submitting_since=now,
            submit_attempts=F("submit_attempts") + 1,
            sent_at=Coalesce(F("sent_at"), Value(now)),
            **builder_fields,
        )
    except IntegrityError:
        # An identical intent of this customer is in flight; wait until it is resolved.
        retry_at = now + timedelta(seconds=INTENT_BUSY_RETRY_SECONDS)
        Order.objects.filter(id=order.id, status=S.QUEUED).update(next_attempt_at=retry_at, updated_at=now)
        return SubmitResult("busy", retry_at=retry_at)
    if not claimed:
        return SubmitResult("not_claimed")

    # What the claim wrote, without reading the row again.
    order.status, order.submit_attempts = S.SUBMITTING, order.submit_attempts + 1
    for name, value in builder_fields.items():
        setattr(order, name, value)
    body = order_parsec_body(order)
    try:
        answer = conf.get_client().create_order(
            exchange=order.exchange, customer_id=order.customer.parsec_customer_id, body=body
        )
    except ParsecRejected as error:
        return _record_rejected(order=order, error=error)
    except ParsecUnavailable as error:
        return _record_unavailable(order=order, error=error, give_up_at=give_up_at, backoff=backoff)
    except ParsecInDoubt as error:
        _record_in_doubt(order=order, cause="answer_lost", message=error.message)
        return SubmitResult("unknown")
    # Still ours in the common case; in doubt if the sweep thought this worker dead meanwhile.
    order_record_accepted(order=order, answer=answer, from_statuses=[S.SUBMITTING]) or order_record_accepted(
        order=order, answer=answer, from_statuses=[S.UNKNOWN]
    )
    return SubmitResult("accepted")


def _answered_at() -> datetime:
    # Recorded after a call to Parsec, which can take seconds: the moment of the answer, not of the claim.
    return timezone.now()


def _record_rejected(*, order: Order, error: ParsecRejected) -> SubmitResult:
    if order.fee_authorization_id is not None and _ESCROW_ID_REUSED.search(error.message or ""):
        # The escrow has seen this authorization: an earlier send arrived. Find that order.
        _record_in_doubt(order=order, cause="escrow_order_id_used", message=error.message)
        return SubmitResult("unknown")
    now = _answered_at()
    with transaction.atomic():
        rejected = order_transition(
            order_id=order.id,
            from_statuses=[S.SUBMITTING],
            to_status=S.REJECTED,
            cause="parsec_rejected",
            now=now,
            detail={"status": error.status, "code": error.code},
            submitting_since=None,
            next_attempt_at=None,
            settled_at=now,
            last_error_code=error.code[:64],
            last_error_message=error.message[:2000],
        )
        if rejected:
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
    return SubmitResult("rejected")


def _record_unavailable(
    *,
    order: Order,
    error: ParsecUnavailable,
    give_up_at: datetime,
    backoff: Callable[[int, float | None], float],
) -> SubmitResult:
    now = _answered_at()
    retry_at = now + timedelta(seconds=backoff(order.submit_attempts, error.retry_after))
    if retry_at >= give_up_at:
        order_fail(
            order_id=order.id,
            from_statuses=[S.SUBMITTING],
            cause="gave_up",
            now=now,
            error_code=error.code,
            error_message=error.message,
        )
        return SubmitResult("failed")
    requeued = order_transition(
        order_id=order.id,
        from_statuses=[S.SUBMITTING],
        to_status=S.QUEUED,
        cause="parsec_unavailable",
        now=now,
        detail={"status": error.status, "code": error.code, "retry_at": retry_at.isoformat()},
        submitting_since=None,
        next_attempt_at=retry_at,
        last_error_code=error.code[:64],
        last_error_message=error.message[:2000],
    )
    return SubmitResult("retry", retry_at=retry_at) if requeued else SubmitResult("not_claimed")


def _record_in_doubt(*, order: Order, cause: str, message: str) -> None:
    now = _answered_at()
    order_transition(
        order_id=order.id,
        from_statuses=[S.SUBMITTING],
        to_status=S.UNKNOWN,
        cause=cause,
        now=now,
        submitting_since=None,
        reconcile_misses=0,
        first_miss_at=None,
        last_error_code=cause,
        last_error_message=message[:2000],
    )
    order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)


def parsec_status_of(answer: ParsecOrder) -> str:
    # Anything Parsec might add later is treated as pending: live, and reconciled until it says more.
    return answer.status if answer.status in PARSEC_STATUSES else S.PENDING


def order_record_accepted(
    *,
    order: Order,
    answer: ParsecOrder,
    from_statuses: list[str],
    cause: str = "parsec_accepted",
) -> bool:
    """Parsec has this order (its create answered, or a listing showed it): adopt its id and state.

    `order` must come with its fee_authorization loaded.
    """
    now = _answered_at()
    status = parsec_status_of(answer)
    with transaction.atomic():
        adopted = order_transition(
            order_id=order.id,
            from_statuses=from_statuses,
            to_status=status,
            cause=cause,
            now=now,
            detail={"parsec_order_id": answer.id, "parsec_status": answer.status},
            condition=Q(parsec_order_id__isnull=True),
            parsec_order_id=answer.id,
            filled=min(max(answer.filled, Decimal(0)), order.size),
            submitting_since=None,
            next_attempt_at=None,
            reconcile_misses=0,
            first_miss_at=None,
            last_error_code="",
            last_error_message="",
        )
        if not adopted:
            return False
        fee_axis.fee_accepted(fee_authorization=order.fee_authorization, now=now)
        if status in Order.FINAL_STATUSES:
            order_settle_if_complete(order_id=order.id, now=now)
            if answer.filled > 0:
                order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
        elif Order.objects.filter(id=order.id, cancel_requested_at__isnull=False).exists():
            # Read now: the cancel may have been asked while the create was on its way.
            order_enqueue_cancel(order_id=order.id)
    return True


# --- Settlement ----------------------------------------------------------------------------------------


def order_settle_if_complete(*, order_id: uuid.UUID | str, now: datetime) -> bool:
    """Close the fee of a final order whose fills are all recorded: the unfilled part is refunded.

    A refusal from the fee ledger leaves the order unsettled (and logged): reconciliation tries again.
    """
    try:
        with transaction.atomic():
            order = Order.objects.select_related("fee_authorization").get(id=order_id)
            if order.status not in Order.FINAL_STATUSES or order.settled_at is not None:
                return False
            recorded = order.fills.aggregate(total=Sum("size"))["total"] or Decimal(0)
            if recorded < order.filled:
                return False  # a fill is still to be read from Parsec
            if not Order.objects.filter(id=order.id, settled_at__isnull=True).update(settled_at=now):
                return False
            if order.parsec_order_id is None:
                fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
            else:
                fee_axis.fee_final(
                    fee_authorization=order.fee_authorization,
                    filled_total=order.filled,
                    size=order.size,
                    now=now,
                )
    except fee_axis.LedgerConflict as error:
        logger.error("order %s cannot be settled yet: %s", order_id, error.message)
        return False
    return True


# --- Cancel --------------------------------------------------------------------------------------------


def order_cancel_request(*, order: Order, now: datetime) -> Order:
    """A partner's cancel: at once for an order never sent, through Parsec for one that was.

    Raises OrderError (409 order_final) for an order already final.
    """
    for _ in range(3):
        current = Order.objects.filter(id=order.id).values_list("status", flat=True).get()
        if current in Order.FINAL_STATUSES:
            raise OrderError(
                f"This order is already {current}; it cannot be cancelled.", code="order_final", status=409
            )
        if current in Order.UNSENT_STATUSES:
            with transaction.atomic():
                cancelled = order_transition(
                    order_id=order.id,
                    from_statuses=[current],
                    to_status=S.CANCELLED,
                    cause="cancelled_before_send",
                    now=now,
                    cancel_requested_at=now,
                    next_attempt_at=None,
                    settled_at=now,
                )
                if cancelled:
                    fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
            if cancelled:
                break
            continue  # claimed or signed meanwhile: look again
        with transaction.atomic():
            marked = (
                Order.objects.filter(id=order.id, status=current, cancel_requested_at__isnull=True).update(
                    cancel_requested_at=now, updated_at=now
                )
                or Order.objects.filter(
                    id=order.id, status=current, cancel_requested_at__isnull=False
                ).exists()
            )
            if marked and current in Order.LIVE_STATUSES:
                order_enqueue_cancel(order_id=order.id)
        # submitting / unknown: the submission or reconciliation that resolves it sees the request.
        if marked:
            break
    order.refresh_from_db()
    return order


def order_cancel_at_parsec(*, order_id: uuid.UUID | str, now: datetime) -> str:
    """Send the cancel of a live order to Parsec and record the answer.

    Returns what happened: final, waiting (not at Parsec yet), cancelled, reconcile (Parsec refused:
    the listing will tell the truth). Raises ParsecUnavailable / ParsecInDoubt for the task to retry.
    """
    order = Order.objects.select_related("customer", "fee_authorization").filter(id=order_id).first()
    if order is None or order.status in Order.FINAL_STATUSES:
        return "final"
    if order.parsec_order_id is None or order.status not in Order.LIVE_STATUSES:
        return "waiting"
    try:
        answer = conf.get_client().cancel_order(
            exchange=order.exchange,
            customer_id=order.customer.parsec_customer_id,
            order_id=order.parsec_order_id,
        )
    except ParsecRejected as error:
        # Not found, or already final at Parsec: not a failure of the order, only of our picture of it.
        with transaction.atomic():
            Order.objects.filter(id=order.id).update(
                last_error_code=error.code[:64], last_error_message=error.message[:2000], updated_at=now
            )
            order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
        return "reconcile"
    with transaction.atomic():
        order_apply_parsec_state(order=order, answer=answer, cause="parsec_cancelled", now=_answered_at())
        order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
    return "cancelled"


def order_apply_parsec_state(
    *, order: Order, answer: ParsecOrder, cause: str, now: datetime, settle: bool = True
) -> bool:
    """Bring a live order we know by its Parsec id to the status and filled amount Parsec reports.

    ``settle=False`` leaves closing the fee of an order that became final to the caller (reconciliation
    does it once its fills are recorded).
    """
    status = parsec_status_of(answer)
    filled = min(max(answer.filled, order.filled), order.size)  # filled never goes back
    if _LIVE_RANK.get(status, 99) < _LIVE_RANK.get(order.status, 99):
        status = order.status  # an older picture of a live order (a listing read before the cancel)
    if status == order.status:
        if filled == order.filled:
            return False
        return bool(
            Order.objects.filter(id=order.id, status=order.status, filled__lt=filled).update(
                filled=filled, updated_at=now
            )
        )
    if order.status not in Order.LIVE_STATUSES:
        return False
    changed = order_transition(
        order_id=order.id,
        from_statuses=[order.status],
        to_status=status,
        cause=cause,
        now=now,
        detail={"parsec_status": answer.status, "filled": str(filled)},
        filled=filled,
    )
    if changed and settle and status in Order.FINAL_STATUSES:
        order_settle_if_complete(order_id=order.id, now=now)
    return changed


# --- Resend after reconciliation ---------------------------------------------------------------------


def order_resend(*, order_id: uuid.UUID | str, cause: str, now: datetime) -> bool:
    """Send an order in doubt again (same escrow order id), after listings kept not showing it."""
    with transaction.atomic():
        requeued = order_transition(
            order_id=order_id,
            from_statuses=[S.UNKNOWN],
            to_status=S.QUEUED,
            cause=cause,
            now=now,
            condition=Q(parsec_order_id__isnull=True),
            next_attempt_at=now,
            reconcile_misses=0,
            first_miss_at=None,
        )
        if requeued:
            order_enqueue_submit(order_id=order_id)
    return requeued


def order_resend_check(order: Order, *, now: datetime) -> str | None:
    """Why an order in doubt may not be sent again yet, or None when it may (admin's resend action)."""
    if order.status != S.UNKNOWN:
        return f"the order is {order.status}, not unknown"
    if order.reconcile_misses < settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND:
        return (
            f"only {order.reconcile_misses} of {settings.ORDER_RECONCILE_MISSES_BEFORE_RESEND} listings "
            "without it so far"
        )
    grace = timedelta(seconds=settings.ORDER_RECONCILE_RESEND_GRACE_SECONDS)
    if order.first_miss_at is None or now - order.first_miss_at < grace:
        return "the listings without it do not span the grace period yet"
    if now >= order_give_up_at(order):
        return "its deadline has passed"
    return None


# --- Outbox sweep -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepReport:
    requeued: int
    lease_expired: int
    expired_fee_auth: int


def orders_outbox_sweep(*, now: datetime, limit: int = 500, requeue_limit: int | None = None) -> SweepReport:
    """What a lost message or a dead worker left behind: re-enqueue, recover, expire.

    `requeue_limit` caps the re-enqueued orders (the caller lowers it while the submission queue still
    holds messages: those are not lost, only waiting, and copies would only lengthen the wait).
    """
    stale = now - timedelta(seconds=settings.ORDER_OUTBOX_STALE_SECONDS)
    requeued = 0
    due = Order.objects.filter(status=S.QUEUED, next_attempt_at__lte=stale).order_by("next_attempt_at")
    with transaction.atomic():
        budget = limit if requeue_limit is None else max(0, min(limit, requeue_limit))
        for order_id, next_attempt_at in due.values_list("id", "next_attempt_at")[:budget]:
            # Bumping next_attempt_at claims the row, so overlapping sweeps enqueue it once.
            if Order.objects.filter(id=order_id, status=S.QUEUED, next_attempt_at=next_attempt_at).update(
                next_attempt_at=now
            ):
                order_enqueue_submit(order_id=order_id)
                requeued += 1

    # A submit whose worker died may have sent its request: in doubt, never simply queued again.
    lease = now - timedelta(seconds=settings.ORDER_SUBMIT_LEASE_SECONDS)
    lease_expired = 0
    dead = Order.objects.filter(status=S.SUBMITTING, submitting_since__lt=lease)
    for order_id, customer_id, exchange in dead.values_list("id", "customer_id", "exchange")[:limit]:
        with transaction.atomic():
            if order_transition(
                order_id=order_id,
                from_statuses=[S.SUBMITTING],
                to_status=S.UNKNOWN,
                cause="lease_expired",
                now=now,
                condition=Q(submitting_since__lt=lease),
                submitting_since=None,
                reconcile_misses=0,
                first_miss_at=None,
                last_error_code="lease_expired",
                last_error_message="The worker sending this order stopped before recording Parsec's answer.",
            ):
                lease_expired += 1
                order_enqueue_reconcile(customer_id=customer_id, exchange=exchange)

    expired = 0
    awaiting = Order.objects.filter(status=S.AWAITING_FEE_AUTH).select_related("fee_authorization")
    for order in awaiting.order_by("created_at")[:limit]:
        deadline = fee_deadline(order)
        if deadline is not None and deadline <= now:
            expired += order_fail(
                order_id=order.id, from_statuses=[S.AWAITING_FEE_AUTH], cause="fee_deadline_passed", now=now
            )
    return SweepReport(requeued=requeued, lease_expired=lease_expired, expired_fee_auth=expired)


# --- Staff actions ------------------------------------------------------------------------------------------

STAFF_ACTION_CAUSE_PREFIX = "staff_"


@transaction.atomic
def order_staff_action_record(
    *,
    order_id: uuid.UUID | str,
    action: str,
    staff_user: str,
    staff_user_id: int,
    outcome: str,
    now: datetime,
) -> OrderEvent:
    """An admin's action on an order (cancel, reconcile, resend) in the order's history, naming who.

    It changes no status (from = to, as any finding does): the transition the action caused, if any,
    has its own event from the service the action called.
    """
    status = Order.objects.filter(id=order_id).values_list("status", flat=True).get()
    return OrderEvent.objects.create(
        order_id=order_id,
        from_status=status,
        to_status=status,
        cause=f"{STAFF_ACTION_CAUSE_PREFIX}{action}",
        detail={"staff_user": staff_user, "staff_user_id": staff_user_id, "outcome": outcome[:500]},
        created_at=now,
    )


# --- Idempotency keys ------------------------------------------------------------------------------------


@transaction.atomic
def idempotency_keys_purge(*, now: datetime) -> int:
    """Delete keys older than the retention, except those whose order is not final yet."""
    cutoff = now - timedelta(hours=settings.ORDER_IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = (
        IdempotencyKey.objects.filter(created_at__lt=cutoff)
        .filter(Q(order__isnull=True) | Q(order__status__in=list(Order.FINAL_STATUSES)))
        .delete()
    )
    return deleted
