"""Orders, their fills and history, and the partner API's idempotency keys."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from parsec.contract import FINAL_STATUSES as PARSEC_FINAL_STATUSES
from parsec.contract import OrderStatus as ParsecOrderStatus

# Prices and sizes a partner sends are stored exactly or refused (never rounded). At most 6 digits
# after the point and sizes below 10**9 keep every value within 15 significant digits, which both
# PostgreSQL and SQLite (whose numeric columns hold doubles) store exactly, and which survive a round
# trip through a JavaScript number in a partner's client.
PRICE_DECIMAL_PLACES = 6
PRICE_MAX_DIGITS = 7
SIZE_DECIMAL_PLACES = 6
SIZE_MAX_DIGITS = 15
SIZE_LIMIT = Decimal(10) ** (SIZE_MAX_DIGITS - SIZE_DECIMAL_PLACES)
OUTCOME_MAX_LENGTH = 100
# Amounts Parsec reports (fills, fees, filled) get more room: they are recorded, never refused.
REPORTED_MAX_DIGITS = 24
REPORTED_DECIMAL_PLACES = 12


class OrderStatus(models.TextChoices):
    AWAITING_FEE_AUTH = "awaiting_fee_auth", "Awaiting fee authorization"
    QUEUED = "queued", "Queued"
    SUBMITTING = "submitting", "Submitting"
    PENDING = "pending", "Pending"
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown"


ORDER_STATUS_VALUES = OrderStatus.values
# What a Parsec answer can say (the contract's statuses, each one of ours too), and the part of it that
# is still live at Parsec.
PARSEC_STATUSES = frozenset(OrderStatus(status.value) for status in ParsecOrderStatus)
PARSEC_LIVE_STATUSES = frozenset(
    OrderStatus(status.value) for status in ParsecOrderStatus if status not in PARSEC_FINAL_STATUSES
)

# Parsec's final statuses, and ours for an order Parsec never accepted.
FINAL_STATUSES = frozenset(
    {*(OrderStatus(status.value) for status in PARSEC_FINAL_STATUSES), OrderStatus.FAILED}
)
# Never sent (or known not to be at Parsec): cancelled locally at once.
UNSENT_STATUSES = frozenset({OrderStatus.AWAITING_FEE_AUTH, OrderStatus.QUEUED})
# Reconciliation looks at these (plus final orders not yet settled).
RECONCILED_STATUSES = frozenset({*PARSEC_LIVE_STATUSES, OrderStatus.UNKNOWN})
# Sent, or maybe sent, and Parsec's answer not yet recorded: one identical intent of a customer at a time.
IN_FLIGHT_STATUSES = frozenset({OrderStatus.SUBMITTING, OrderStatus.UNKNOWN})


def in_declared_order(statuses: frozenset[str]) -> list[str]:
    """The statuses as a list in OrderStatus's order: stable in constraints, indexes and migrations."""
    return [status for status in OrderStatus.values if status in statuses]


class Order(models.Model):
    Status = OrderStatus

    class Side(models.TextChoices):
        BUY = "buy", "Buy"
        SELL = "sell", "Sell"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey("customers.Partner", on_delete=models.PROTECT, related_name="orders")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="orders")
    exchange = models.CharField(max_length=16)
    market_id = models.CharField(max_length=256)
    outcome = models.CharField(max_length=OUTCOME_MAX_LENGTH)
    side = models.CharField(max_length=4, choices=Side.choices)
    price = models.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMAL_PLACES)
    size = models.DecimalField(max_digits=SIZE_MAX_DIGITS, decimal_places=SIZE_DECIMAL_PLACES)
    order_type = models.CharField(max_length=4, default="gtc")
    expiration = models.BigIntegerField(null=True, blank=True)  # unix seconds, gtd only
    status = models.CharField(max_length=20, choices=Status.choices)
    parsec_order_id = models.CharField(max_length=128, null=True, blank=True, unique=True)
    filled = models.DecimalField(
        max_digits=REPORTED_MAX_DIGITS, decimal_places=REPORTED_DECIMAL_PLACES, default=Decimal(0)
    )
    fee_authorization = models.OneToOneField(
        "fees.FeeAuthorization", on_delete=models.PROTECT, null=True, blank=True, related_name="order"
    )
    # Builder fields exactly as sent to Parsec; blank on an order without a fee.
    payer_address = models.CharField(max_length=42, blank=True, default="")
    signer_address = models.CharField(max_length=42, blank=True, default="")
    affiliate = models.CharField(max_length=42, blank=True, default="")
    # Submission: attempts made, when the next may start, and the lease of the attempt in progress.
    submit_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    submitting_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # first time the create left for Parsec
    # Reconciliation of an order whose create is in doubt: listings that did not show it, since when.
    reconcile_misses = models.PositiveIntegerField(default=0)
    first_miss_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    # Set once a final order's fills and fee ledger are complete; until then reconciliation visits it.
    settled_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    last_error_message = models.TextField(blank=True, default="")
    # Moves on with every change (each transition, each batch of fills), in the same transaction: the
    # `version` of the order in the API and in its events, so a receiver can ignore a late older one.
    version = models.PositiveBigIntegerField(
        default=1, help_text="Grows with every change of the order; a later state has a larger version."
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    FINAL_STATUSES = FINAL_STATUSES
    LIVE_STATUSES = PARSEC_LIVE_STATUSES
    UNSENT_STATUSES = UNSENT_STATUSES
    RECONCILED_STATUSES = RECONCILED_STATUSES
    IN_FLIGHT_STATUSES = IN_FLIGHT_STATUSES

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gt=0) & Q(price__lt=1), name="orders_order_price_range"
            ),
            models.CheckConstraint(condition=Q(size__gt=0), name="orders_order_size_positive"),
            models.CheckConstraint(
                condition=Q(filled__gte=0) & Q(filled__lte=F("size")), name="orders_order_filled_within_size"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ORDER_STATUS_VALUES), name="orders_order_status_valid"
            ),
            models.CheckConstraint(condition=Q(side__in=["buy", "sell"]), name="orders_order_side_valid"),
            # Two identical intents of one customer are never in doubt at once, so an order found at
            # Parsec while reconciling can be matched to exactly one of ours. A second claim fails on
            # this constraint and that order simply stays queued until the first is resolved.
            models.UniqueConstraint(
                fields=["customer", "exchange", "market_id", "outcome", "side", "price", "size"],
                condition=Q(status__in=in_declared_order(IN_FLIGHT_STATUSES)),
                name="orders_order_one_intent_in_flight",
            ),
        ]
        indexes = [
            # Partner list: newest first, optionally per customer / status.
            models.Index(fields=["partner", "-created_at", "-id"], name="orders_partner_created"),
            models.Index(fields=["partner", "customer", "-created_at"], name="orders_partner_customer"),
            models.Index(fields=["partner", "status", "-created_at"], name="orders_partner_status"),
            # Dashboard and admin date filters.
            models.Index(fields=["created_at"], name="orders_created"),
            # The outbox sweep: queued orders due, and submitting orders whose lease may have run out.
            models.Index(fields=["status", "next_attempt_at"], name="orders_status_next_attempt"),
            models.Index(
                fields=["submitting_since"], condition=Q(status="submitting"), name="orders_submitting_lease"
            ),
            # Reconciliation: the (customer, exchange) pairs with orders at Parsec or in doubt, and the
            # final orders whose fills are not all recorded yet.
            models.Index(
                fields=["customer", "exchange"],
                condition=Q(status__in=in_declared_order(RECONCILED_STATUSES))
                | Q(settled_at__isnull=True, status__in=in_declared_order(FINAL_STATUSES)),
                name="orders_reconcile_scope",
            ),
            # Awaiting a signature past the deadline: failed by the sweep.
            models.Index(
                fields=["created_at"],
                condition=Q(status=OrderStatus.AWAITING_FEE_AUTH),
                name="orders_awaiting_fee",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.size} {self.outcome} @ {self.price} on {self.exchange} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class Fill(models.Model):
    """One fill reported by Parsec; its fill_id makes recording it again a no-op."""

    fill_id = models.CharField(max_length=128, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    price = models.DecimalField(max_digits=REPORTED_MAX_DIGITS, decimal_places=REPORTED_DECIMAL_PLACES)
    size = models.DecimalField(max_digits=REPORTED_MAX_DIGITS, decimal_places=REPORTED_DECIMAL_PLACES)
    fee = models.DecimalField(  # the exchange's fee in USDC, as Parsec reports it (not the builder fee)
        max_digits=REPORTED_MAX_DIGITS, decimal_places=REPORTED_DECIMAL_PLACES, default=Decimal(0)
    )
    is_taker = models.BooleanField(default=False)
    created_at = models.DateTimeField()  # when the fill happened at the exchange
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ("created_at", "id")
        constraints = [models.CheckConstraint(condition=Q(size__gt=0), name="orders_fill_size_positive")]
        indexes = [
            models.Index(fields=["order", "created_at"], name="orders_fill_order"),
            # GET /api/v1/fills: a partner's fills newest first, one page at a time.
            models.Index(fields=["-created_at", "-id"], name="orders_fill_created"),
        ]

    def __str__(self) -> str:
        return f"fill {self.fill_id}: {self.size} @ {self.price}"


class OrderEvent(models.Model):
    """Append-only history: one row per status change, with what caused it (from = to for a finding
    that changes no status, such as a duplicate found at Parsec)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=20)
    to_status = models.CharField(max_length=20)
    cause = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["order", "created_at"], name="orders_event_order")]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status} ({self.cause})"


class IdempotencyKey(models.Model):
    """A partner's Idempotency-Key: claimed before the work, holding the response once it is done."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        COMPLETED = "completed", "Completed"

    partner = models.ForeignKey(
        "customers.Partner", on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 hex of the request (exchange, customer, body)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    # Changes when a key left in flight by a dead request is taken over; only its holder may complete it.
    token = models.UUIDField(default=uuid.uuid4)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)  # the exact bytes answered
    response_headers = models.JSONField(default=dict, blank=True)
    order = models.ForeignKey(Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="orders_idempotency_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="orders_idempotency_created")]

    def __str__(self) -> str:
        return f"idempotency key {self.key[:16]} ({self.state})"


class ReconcileState(models.Model):
    """When reconciliation of one (customer, exchange) was last queued and last run.

    The beat fan-out queues a pair only once its previous run has happened (or its message is presumed
    lost), oldest-reconciled first: under load every customer still gets its turn, and the queue never
    fills with copies of work already waiting.
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    exchange = models.CharField(max_length=16)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    # The last "reconcile soon" message sent for this pair: requests within a second share it, in every
    # process (a conditional update of this row, not a per-process cache).
    soon_requested_at = models.DateTimeField(null=True, blank=True)
    # Parsec refusing to list this pair's orders (a 4xx, which waiting alone will not cure): how many
    # times in a row, the last refusal, and when beat may try again (exponential backoff, capped).
    refusals = models.PositiveIntegerField(default=0)
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    last_error_message = models.TextField(blank=True, default="")
    refused_at = models.DateTimeField(null=True, blank=True)
    retry_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "exchange"], name="orders_reconcile_state_pair"),
        ]

    def __str__(self) -> str:
        return f"reconcile {self.customer_id} on {self.exchange}"


class DeadManSwitch(models.Model):
    """A partner's dead-man switch: armed by a heartbeat, it cancels the partner's live orders when no
    heartbeat arrives before `deadline` (POST /api/v1/heartbeat)."""

    partner = models.OneToOneField("customers.Partner", on_delete=models.CASCADE, related_name="+")
    armed = models.BooleanField(default=False)
    cancel_after_seconds = models.PositiveIntegerField(default=0)
    deadline = models.DateTimeField(
        null=True, blank=True
    )  # when armed: last heartbeat + cancel_after_seconds
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)  # the last time it cancelled the partner's orders

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(armed=False) | Q(deadline__isnull=False), name="orders_dead_man_switch_deadline"
            ),
        ]
        indexes = [
            # The beat task reads the armed switches past their deadline.
            models.Index(fields=["deadline"], condition=Q(armed=True), name="orders_dead_man_switch_due"),
        ]

    def __str__(self) -> str:
        return f"dead-man switch of partner {self.partner_id} ({'armed' if self.armed else 'off'})"
