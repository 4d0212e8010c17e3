"""Submission: claim a queued order, send it to Parsec once, and record what Parsec answered."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce

from orders import fee_axis
from orders.models import Order
from orders.services.deadlines import fee_deadline, give_up_reason, order_give_up_at
from orders.services.parsec_state import answered_at, order_record_accepted
from orders.services.queueing import order_enqueue_reconcile
from orders.services.settlement import order_fail
from orders.transitions import order_transition
from parsec import conf
from parsec.client import ParsecInDoubt, ParsecRejected, ParsecUnavailable
from parsec.contract import FeeAuth, OrderRequest

S = Order.Status
# How long a claim blocked by an identical intent in flight waits before it is tried again.
INTENT_BUSY_RETRY_SECONDS = 5
# Parsec's words when an escrow order id is presented twice: the escrow refuses the second use, which
# proves the first create arrived.
_ESCROW_ID_REUSED = re.compile(r"order_id.*already used|already used.*order", re.IGNORECASE)


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
        cause, message = give_up_reason(order, now=now)
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


def _record_rejected(*, order: Order, error: ParsecRejected) -> SubmitResult:
    if order.fee_authorization_id is not None and _ESCROW_ID_REUSED.search(error.message or ""):
        # The escrow has seen this authorization: an earlier send arrived. Find that order.
        _record_in_doubt(order=order, cause="escrow_order_id_used", message=error.message)
        return SubmitResult("unknown")
    now = answered_at()
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
    now = answered_at()
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
    now = answered_at()
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
