"""Submission: claim a queued order, send it to Parsec once, and record what Parsec answered."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from halts.selectors import trading_stop_for
from orders import fee_axis
from orders.models import Order, OrderEvent
from orders.services.deadlines import fee_deadline, give_up_reason, order_give_up_at, submit_backoff_seconds
from orders.services.parsec_state import answered_at, order_record_accepted
from orders.services.queueing import order_enqueue_reconcile
from orders.services.settlement import order_fail
from orders.services.transition_fields import ended_fields, error_fields, in_doubt_fields
from orders.transitions import order_transition
from orders.vocabulary import EventCause, SubmitOutcome
from parsec import conf
from parsec.client import ParsecInDoubt, ParsecRejected, ParsecUnavailable
from parsec.contract import ErrorCode, FeeAuth, OrderRequest

S = Order.Status
# How long a claim blocked by an identical intent in flight waits before it is tried again.
INTENT_BUSY_RETRY_SECONDS = 5
# Refusals of a create that name a cause other than the order's escrow id: our own key (401, 403), an
# unknown exchange or market (404), an exchange that does not take this order (501). Any other refusal
# (Parsec answers a reused escrow order id with a plain 400 bad_request, in words that are no contract)
# could be the escrow refusing an id an earlier send of the order already used.
_REFUSALS_NOT_ABOUT_THE_ESCROW_ID = frozenset(
    {
        (401, ErrorCode.UNAUTHORIZED),
        (401, ErrorCode.AUTHENTICATION_FAILED),
        (401, ErrorCode.CREDENTIALS_REQUIRED),
        (403, ErrorCode.UNAUTHORIZED),
        (404, ErrorCode.EXCHANGE_NOT_FOUND),
        (404, ErrorCode.MARKET_NOT_FOUND),
        (501, ErrorCode.NOT_SUPPORTED),
    }
)


@dataclass(frozen=True)
class SubmitResult:
    outcome: SubmitOutcome
    retry_at: datetime | None = None  # when the order may be tried again (retry, busy, not yet due)


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


def order_submit(*, order_id: uuid.UUID | str, now: datetime) -> SubmitResult:
    """Claim a queued order, send it to Parsec once, and record what Parsec answered.

    After Parsec was unavailable the order goes back to the queue with a backoff (deadlines), until
    its give-up time. Safe to call twice: only one caller wins the claim.
    """
    order = _order_for_submit(order_id)
    if order is None or order.status != S.QUEUED:
        return SubmitResult(SubmitOutcome.NOT_CLAIMED)
    if order.next_attempt_at is not None and order.next_attempt_at > now:
        return SubmitResult(SubmitOutcome.NOT_CLAIMED, retry_at=order.next_attempt_at)
    give_up_at = order_give_up_at(order)
    refused = _refuse_before_sending(order, now=now, give_up_at=give_up_at)
    if refused is not None:
        return refused
    if trading_stop_for(exchange=order.exchange, partner=order.partner, customer=order.customer):
        # Held, not failed: it stays queued and the outbox sweep sends it again once the halt is
        # lifted (or it reaches its give-up time like any queued order). No retry of its own, so a
        # long halt does not keep a message per order circling through the broker.
        return SubmitResult(SubmitOutcome.HELD)
    claim = _claim(order, now=now)
    if claim is not None:
        return claim
    try:
        answer = conf.get_client().create_order(
            exchange=order.exchange,
            customer_id=order.customer.parsec_customer_id,
            body=order_parsec_body(order),
        )
    except ParsecRejected as error:
        return _record_rejected(order=order, error=error)
    except ParsecUnavailable as error:
        return _record_unavailable(order=order, error=error, give_up_at=give_up_at)
    except ParsecInDoubt as error:
        return _record_in_doubt(order=order, cause=EventCause.ANSWER_LOST, message=error.message)
    # Still ours in the common case; in doubt if the sweep thought this worker dead meanwhile.
    order_record_accepted(order=order, answer=answer, from_statuses=[S.SUBMITTING]) or order_record_accepted(
        order=order, answer=answer, from_statuses=[S.UNKNOWN]
    )
    return SubmitResult(SubmitOutcome.ACCEPTED)


def _refuse_before_sending(order: Order, *, now: datetime, give_up_at: datetime) -> SubmitResult | None:
    """Fail an order that must not be sent any more (past its give-up time, no Parsec account)."""
    if now >= give_up_at:
        cause, message = give_up_reason(order, now=now)
        order_fail(order_id=order.id, from_statuses=[S.QUEUED], cause=cause, now=now, error_message=message)
        return SubmitResult(SubmitOutcome.FAILED)
    if not order.customer.parsec_customer_id:
        order_fail(
            order_id=order.id,
            from_statuses=[S.QUEUED],
            cause=EventCause.CUSTOMER_NOT_PROVISIONED,
            now=now,
            error_message="The customer has no Parsec account.",
        )
        return SubmitResult(SubmitOutcome.FAILED)
    return None


def _claim(order: Order, *, now: datetime) -> SubmitResult | None:
    """Move the order to submitting (None: this caller won and sends it), else why not."""
    builder_fields = _builder_fields(order)
    try:
        # The savepoint is here, where its IntegrityError is caught (a caller may hold a transaction).
        with transaction.atomic():
            claimed = _claim_transition(order, now=now, builder_fields=builder_fields)
    except IntegrityError:
        # An identical intent of this customer is in flight; wait until it is resolved.
        retry_at = now + timedelta(seconds=INTENT_BUSY_RETRY_SECONDS)
        Order.objects.filter(id=order.id, status=S.QUEUED).update(next_attempt_at=retry_at, updated_at=now)
        return SubmitResult(SubmitOutcome.BUSY, retry_at=retry_at)
    if not claimed:
        return SubmitResult(SubmitOutcome.NOT_CLAIMED)
    return None


def _claim_transition(order: Order, *, now: datetime, builder_fields: dict[str, str]) -> bool:
    return order_transition(
        order_id=order.id,
        from_statuses=[S.QUEUED],
        to_status=S.SUBMITTING,
        cause=EventCause.CLAIMED,
        now=now,
        detail={"attempt": order.submit_attempts + 1},
        condition=Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        submitting_since=now,
        submit_attempts=F("submit_attempts") + 1,
        sent_at=Coalesce(F("sent_at"), Value(now)),
        order=order,
        **builder_fields,
    )


def refusal_may_be_escrow_id_reuse(*, status: int, code: str, escrow_id_may_be_used: bool) -> bool:
    """Whether Parsec's refusal of a create could be the escrow refusing an escrow order id already used.

    Decided on the status and code alone, never on Parsec's wording. Only an id an earlier send may have
    presented can be reused; then any refusal not known to name another cause may be the escrow's, and
    proves nothing final: that earlier send may be live at Parsec.
    """
    if not escrow_id_may_be_used:
        return False
    return (status, code) not in _REFUSALS_NOT_ABOUT_THE_ESCROW_ID


def _escrow_id_may_be_used(order: Order) -> bool:
    # A fee-bearing order whose earlier send ended in doubt (lost answer, dead worker) may have used it.
    return (
        order.fee_authorization_id is not None
        and order.submit_attempts > 1
        and OrderEvent.objects.filter(order_id=order.id, to_status=S.UNKNOWN).exists()
    )


def _record_rejected(*, order: Order, error: ParsecRejected) -> SubmitResult:
    if refusal_may_be_escrow_id_reuse(
        status=error.status, code=error.code, escrow_id_may_be_used=_escrow_id_may_be_used(order)
    ):
        # Reconciliation finds the earlier send, or after its misses sends the order again.
        return _record_in_doubt(order=order, cause=EventCause.ESCROW_ORDER_ID_USED, message=error.message)
    now = answered_at()
    with transaction.atomic():
        rejected = order_transition(
            order_id=order.id,
            from_statuses=[S.SUBMITTING],
            to_status=S.REJECTED,
            cause=EventCause.PARSEC_REJECTED,
            order=order,
            now=now,
            detail={"status": error.status, "code": error.code},
            **ended_fields(now=now),
            **error_fields(error.code, error.message),
        )
        if rejected:
            fee_axis.fee_never_pulled(fee_authorization=order.fee_authorization, now=now)
    return SubmitResult(SubmitOutcome.REJECTED)


def _record_unavailable(*, order: Order, error: ParsecUnavailable, give_up_at: datetime) -> SubmitResult:
    now = answered_at()
    retry_at = now + timedelta(seconds=submit_backoff_seconds(order.submit_attempts, error.retry_after))
    if retry_at >= give_up_at:
        order_fail(
            order_id=order.id,
            from_statuses=[S.SUBMITTING],
            cause=EventCause.GAVE_UP,
            now=now,
            error_code=error.code,
            error_message=error.message,
        )
        return SubmitResult(SubmitOutcome.FAILED)
    requeued = order_transition(
        order_id=order.id,
        from_statuses=[S.SUBMITTING],
        to_status=S.QUEUED,
        cause=EventCause.PARSEC_UNAVAILABLE,
        order=order,
        now=now,
        detail={"status": error.status, "code": error.code, "retry_at": retry_at.isoformat()},
        submitting_since=None,
        next_attempt_at=retry_at,
        **error_fields(error.code, error.message),
    )
    if not requeued:
        return SubmitResult(SubmitOutcome.NOT_CLAIMED)
    return SubmitResult(SubmitOutcome.RETRY, retry_at=retry_at)


def _record_in_doubt(*, order: Order, cause: EventCause, message: str) -> SubmitResult:
    order_transition(
        order_id=order.id,
        from_statuses=[S.SUBMITTING],
        to_status=S.UNKNOWN,
        cause=cause,
        now=answered_at(),
        order=order,
        **in_doubt_fields(cause=cause, message=message),
    )
    order_enqueue_reconcile(customer_id=order.customer_id, exchange=order.exchange)
    return SubmitResult(SubmitOutcome.UNKNOWN)
