"""The orders app's named words: event causes, submit and cancel outcomes, error codes.

Each is a StrEnum whose values are exactly what is stored (`OrderEvent.cause`, `Order.last_error_code`)
or answered (the error shape's `code`), so a member compares equal to its string and stored rows and
API answers stay as they were. A new word is added here, never written as a free string.
"""

from __future__ import annotations

from enum import StrEnum


class EventCause(StrEnum):
    """What caused an OrderEvent (and, for an order that failed, its last_error_code)."""

    # Intake and the fee signature.
    CREATED = "created"
    FEE_AUTHORIZATION_SIGNED = "fee_authorization_signed"
    FEE_DEADLINE_PASSED = "fee_deadline_passed"
    FEE_DEADLINE_TOO_CLOSE = "fee_deadline_too_close"
    # Submission.
    CLAIMED = "claimed"
    PARSEC_ACCEPTED = "parsec_accepted"
    PARSEC_REJECTED = "parsec_rejected"
    PARSEC_UNAVAILABLE = "parsec_unavailable"
    ANSWER_LOST = "answer_lost"
    ESCROW_ORDER_ID_USED = "escrow_order_id_used"
    GAVE_UP = "gave_up"
    CUSTOMER_NOT_PROVISIONED = "customer_not_provisioned"
    # Why a queued order was given up without being sent (see deadlines.give_up_reason).
    NO_WORKER = "no_worker"
    NOT_SENT_IN_TIME = "not_sent_in_time"
    DEADLINE_PASSED = "deadline_passed"
    # The outbox sweep: a submit whose worker died.
    LEASE_EXPIRED = "lease_expired"
    # Cancel.
    CANCELLED_BEFORE_SEND = "cancelled_before_send"
    CANCEL_REQUESTED = "cancel_requested"  # a finding: who asked to cancel an order already sent
    PARSEC_CANCELLED = "parsec_cancelled"
    # Reconciliation.
    RECONCILED = "reconciled"
    ADOPTED_FROM_LISTING = "adopted_from_listing"
    ADOPTED_LATE_ARRIVAL = "adopted_late_arrival"
    DUPLICATE_AT_PARSEC = "duplicate_at_parsec"
    CANCELLED_NOT_AT_PARSEC = "cancelled_not_at_parsec"
    NOT_AT_PARSEC = "not_at_parsec"
    RESENT_NOT_AT_PARSEC = "resent_not_at_parsec"
    # Staff (the admin): a resend, and the record of each action (STAFF_ACTION_CAUSE_PREFIX + action).
    RESENT_BY_ADMIN = "resent_by_admin"
    STAFF_CANCEL = "staff_cancel"
    STAFF_RECONCILE = "staff_reconcile"
    STAFF_RESEND = "staff_resend"


# An admin's action is recorded with this prefix; partners see its outcome, never who acted.
STAFF_ACTION_CAUSE_PREFIX = "staff_"


class SubmitOutcome(StrEnum):
    """What one call of submission.order_submit did (the submit task's result)."""

    NOT_CLAIMED = "not_claimed"  # not queued, not due yet, or another worker won the claim
    BUSY = "busy"  # an identical intent of the customer is in flight; tried again shortly
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETRY = "retry"  # Parsec unavailable: back in the queue with a backoff
    FAILED = "failed"  # given up (deadline) or the customer has no Parsec account
    UNKNOWN = "unknown"  # in doubt: reconciliation finds out
    HELD = "held"  # a trading halt (or the partner's suspension) covers it: left queued, sent after the lift


# Outcomes after which the submit task schedules the order's next attempt itself.
SUBMIT_RETRY_OUTCOMES = frozenset({SubmitOutcome.RETRY, SubmitOutcome.BUSY, SubmitOutcome.NOT_CLAIMED})


class CancelOutcome(StrEnum):
    """What one call of cancel.order_cancel_at_parsec did (the cancel task's result)."""

    FINAL = "final"  # nothing to cancel: the order is final (or gone)
    WAITING = "waiting"  # not at Parsec yet: its submission or reconciliation sees the request
    CANCELLED = "cancelled"
    RECONCILE = "reconcile"  # Parsec refused: the listing will tell the truth


class OrderErrorCode(StrEnum):
    """The `code` of the orders app's own refusals (Parsec's contract codes pass through as they are)."""

    BAD_REQUEST = "bad_request"
    MISSING_PARAMETER = "missing_parameter"
    NOT_FOUND = "not_found"
    MARKET_NOT_FOUND = "market_not_found"
    NOT_SUPPORTED = "not_supported"
    SERVICE_UNAVAILABLE = "service_unavailable"
    CUSTOMER_DISABLED = "customer_disabled"
    CUSTOMER_NOT_READY = "customer_not_ready"
    FEE_AUTHORIZATION_NOT_EXPECTED = "fee_authorization_not_expected"
    FEE_AUTHORIZATION_EXPIRED = "fee_authorization_expired"
    FEE_DEADLINE_TOO_CLOSE = "fee_deadline_too_close"
    ORDER_FINAL = "order_final"
    CANCEL_CONTENDED = "cancel_contended"
    HEARTBEAT_INVALID = "heartbeat_invalid"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_IN_FLIGHT = "idempotency_key_in_flight"
