"""The simulator's own state: builders, their end-users, markets, orders and fills."""

import uuid
from decimal import Decimal

from django.db import models
from django.db.models import F, Q

# Prices and sizes: up to 18 decimal places (the contract's limit) and sizes below 10**15.
DECIMAL_DIGITS = 36
DECIMAL_PLACES = 18


class SimBuilder(models.Model):
    """A builder account; the one keyed by PARSEC_SIMULATOR_API_KEY is created on first use."""

    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)  # sha256 of the API key, never the key
    key_prefix = models.CharField(max_length=12)  # enough to recognise a key in admin
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"


class SimBuilderUser(models.Model):
    """An end-user of a builder (Parsec's "builder user"), with its own API key and onboarding."""

    customer_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    builder = models.ForeignKey(SimBuilder, on_delete=models.CASCADE, related_name="users")
    external_id = models.CharField(max_length=255)
    email = models.CharField(max_length=255, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    key_prefix = models.CharField(max_length=12)
    status = models.CharField(max_length=20, default="active")
    linked_exchanges = models.JSONField(default=list)
    eoa_address = models.CharField(max_length=42, blank=True)
    safe_address = models.CharField(max_length=42, blank=True)
    wallet_type = models.CharField(max_length=10, blank=True)
    # The builder's fee for this end-user; None: the escrow config's default. 0: attribution only.
    fee_bps = models.PositiveIntegerField(null=True, blank=True)
    # Its per-second limit out of the builder's QPS pool, as set with PATCH; None: not set (then
    # PARSEC_SIM_USER_QPS applies, when on). Enforced by parsec.sim.limits.
    qps_limit = models.PositiveIntegerField(null=True, blank=True)
    # What fills and fees have added to (or taken from) its USDC balance, in USDC base units; the balance
    # is PARSEC_SIM_STARTING_BALANCE_USDC plus this, so changing the setting funds every user at once.
    usdc_delta = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["builder", "external_id"], name="sim_user_unique_external_id")
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.customer_id})"


class SimMarket(models.Model):
    exchange = models.CharField(max_length=20)
    market_id = models.CharField(max_length=256)
    question = models.CharField(max_length=300)
    outcomes = models.JSONField(default=list)
    status = models.CharField(max_length=20, default="active")
    # Parsec's per-market trading rules; null where the exchange publishes none.
    tick_size = models.DecimalField(
        max_digits=DECIMAL_DIGITS,
        decimal_places=DECIMAL_PLACES,
        null=True,
        blank=True,
        default=Decimal("0.01"),
    )
    min_order_size = models.DecimalField(
        max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True, default=Decimal(1)
    )

    class Meta:
        ordering = ["exchange", "id"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "market_id"], name="sim_market_unique_per_exchange")
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.market_id}"


class SimOrder(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        OPEN = "open"
        PARTIALLY_FILLED = "partially_filled"
        FILLED = "filled"
        CANCELLED = "cancelled"
        REJECTED = "rejected"

    LIVE_STATUSES = (Status.PENDING, Status.OPEN, Status.PARTIALLY_FILLED)

    id = models.CharField(primary_key=True, max_length=40, editable=False)
    customer = models.ForeignKey(SimBuilderUser, on_delete=models.CASCADE, related_name="orders")
    exchange = models.CharField(max_length=20)
    market = models.ForeignKey(SimMarket, on_delete=models.PROTECT, related_name="orders")
    outcome = models.CharField(max_length=100)
    side = models.CharField(max_length=4)
    price = models.DecimalField(max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES)
    size = models.DecimalField(max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES)
    filled = models.DecimalField(max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES, default=0)
    status = models.CharField(max_length=20, choices=Status.choices)
    order_type = models.CharField(max_length=4, default="gtc")
    expiration = models.DateTimeField(null=True, blank=True)  # gtd only
    # When the matching engine next has something to do for this order (a fill chunk or the expiry);
    # null once the order is final.
    next_event_at = models.DateTimeField(null=True, blank=True)
    fill_count = models.PositiveIntegerField(default=0)
    # Builder fields as the escrow saw them. The escrow order id is usable once, ever.
    escrow_order_id = models.CharField(max_length=66, null=True, blank=True, unique=True)
    fee_amount = models.DecimalField(
        max_digits=80, decimal_places=0, null=True, blank=True
    )  # USDC base units
    payer_address = models.CharField(max_length=42, blank=True)
    signer_address = models.CharField(max_length=42, blank=True)
    affiliate = models.CharField(max_length=42, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "exchange", "-created_at"], name="sim_order_customer_idx"),
            models.Index(fields=["customer", "next_event_at"], name="sim_order_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0) & Q(price__lt=1), name="sim_order_price_range"),
            models.CheckConstraint(condition=Q(size__gt=0), name="sim_order_size_positive"),
            models.CheckConstraint(
                condition=Q(filled__gte=0) & Q(filled__lte=F("size")), name="sim_order_filled_within_size"
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE_STATUSES

    @property
    def remaining(self):
        return self.size - self.filled


class SimFill(models.Model):
    fill_id = models.CharField(primary_key=True, max_length=60, editable=False)
    order = models.ForeignKey(SimOrder, on_delete=models.CASCADE, related_name="fills")
    price = models.DecimalField(max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES)
    size = models.DecimalField(max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES)
    is_taker = models.BooleanField()
    fee = models.DecimalField(max_digits=DECIMAL_DIGITS, decimal_places=DECIMAL_PLACES)  # USDC
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-fill_id"]
        indexes = [models.Index(fields=["order", "created_at"], name="sim_fill_order_idx")]
        constraints = [models.CheckConstraint(condition=Q(size__gt=0), name="sim_fill_size_positive")]

    def __str__(self) -> str:
        return self.fill_id


class SimRateHit(models.Model):
    """One request counted against a rate-limited scope (the database mode of parsec.sim.limits).

    Kept for a few minutes: the sliding window counts the accepted ones of the last second, and the
    rate statistics read the maximum any one second saw.
    """

    scope = models.CharField(max_length=80)  # "pool:<builder id>" or "user:<customer id>"
    at = models.FloatField(help_text="Unix time (seconds) the request arrived.")
    accepted = models.BooleanField()

    class Meta:
        indexes = [models.Index(fields=["scope", "at"], name="sim_rate_hit_scope_at_idx")]

    def __str__(self) -> str:
        return f"{self.scope} at {self.at:.3f} ({'accepted' if self.accepted else 'refused'})"
