"""Partners, their API keys, customers, the wallets customers proved to own, and wallet challenges."""

from __future__ import annotations

import uuid

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from customers.addresses import ADDRESS_REGEX, validate_checksummed_address
from generations.store import GenerationBumpingQuerySet

BPS_MAX = 10_000  # basis points: 10000 = 100%


class Partner(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    name = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Builder fee charged on this partner's customers' orders; null means the escrow config's default.
    fee_bps = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(BPS_MAX)])
    # Bumped with every change of fee_bps: customers whose builder user carries an older version are
    # brought up to date at Parsec (see Customer.parsec_fee_version).
    fee_version = models.PositiveIntegerField(default=0, editable=False)
    # One fee sync of this partner at a time (customers.services.fee_sync): a run holds the lease until
    # this moment, renewing it as it goes; a run that died lets it lapse.
    fee_sync_lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    fee_sync_lease_token = models.UUIDField(null=True, blank=True, editable=False)
    # Receives the affiliate share on-chain through each order's `affiliate` field; blank = none.
    affiliate_address = models.CharField(
        max_length=42, blank=True, default="", validators=[validate_checksummed_address]
    )
    # Share of collected fees paid to the partner off-chain, in basis points.
    revenue_share_bps = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(BPS_MAX)])
    # The platform's own partner, owner of the web frontend's users; at most one exists.
    is_builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    # Written without any cached read depending on it: such an update bumps no generation.
    generation_ignored_fields = frozenset({"fee_sync_lease_token", "fee_sync_lease_until"})
    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        ordering = ("name",)
        constraints = [
            models.CheckConstraint(
                condition=Q(fee_bps__isnull=True) | Q(fee_bps__gte=0, fee_bps__lte=BPS_MAX),
                name="customers_partner_fee_bps_range",
                violation_error_message="fee_bps must be between 0 and 10000 basis points.",
            ),
            models.CheckConstraint(
                condition=Q(revenue_share_bps__gte=0, revenue_share_bps__lte=BPS_MAX),
                name="customers_partner_revenue_share_bps_range",
                violation_error_message="revenue_share_bps must be between 0 and 10000 basis points.",
            ),
            models.CheckConstraint(
                condition=Q(affiliate_address="") | Q(affiliate_address__regex=ADDRESS_REGEX),
                name="customers_partner_affiliate_address_shape",
                violation_error_message="affiliate_address must be 0x followed by 40 hexadecimal digits.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended"]), name="customers_partner_status_valid"
            ),
            models.UniqueConstraint(
                fields=["is_builtin"],
                condition=Q(is_builtin=True),
                name="customers_partner_one_builtin",
                violation_error_message="There is already a built-in partner; there can be only one.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    SERVICE_OWNED_FIELDS = ("fee_version", "fee_sync_lease_until", "fee_sync_lease_token")

    def save(self, *args, **kwargs) -> None:
        # fee_version only ever moves by the services' F() increment, and the fee sync's lease only by
        # its conditional updates: saving a row read before either must not write an older value back.
        if self.pk is not None and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                field.name
                for field in self._meta.concrete_fields
                if not field.primary_key and field.name not in self.SERVICE_OWNED_FIELDS
            ]
        super().save(*args, **kwargs)


class PartnerApiKey(models.Model):
    """A partner's API key: only a SHA-256 of it is kept, with a short public prefix to find it by."""

    class Scope(models.TextChoices):
        READ = "read", "read only"
        READ_WRITE = "read_write", "read and write"

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, default="")  # a label, e.g. "production"
    prefix = models.CharField(max_length=8, db_index=True)  # the 8 characters after "bp_"; not secret
    # SHA-256 hex of the whole key. A fast hash is enough: the key holds 256 random bits, so there is
    # nothing to brute-force, and a slow password hash would run on every API request.
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # A read key may only read (GET, HEAD, OPTIONS): every other method answers 403 key_read_only.
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ_WRITE)

    # Written without any cached read depending on it: such an update bumps no generation.
    generation_ignored_fields = frozenset({"last_used_at"})
    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        verbose_name = "partner API key"
        ordering = ("-created_at",)
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=["read", "read_write"]), name="customers_partnerapikey_scope_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"bp_{self.prefix}…"

    def __repr__(self) -> str:
        # Never the hash: a repr ends up in logs and tracebacks.
        return f"<PartnerApiKey {self.pk} bp_{self.prefix}… partner={self.partner_id}>"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class Customer(models.Model):
    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Provisioning"
        ACTIVE = "active", "Active"
        DISABLED = "disabled", "Disabled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="customers")
    external_id = models.CharField(max_length=128)  # the partner's own id for this user
    email = models.EmailField(blank=True, default="")
    parsec_customer_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # The partner's fee_version that the builder user's fee at Parsec was last set from.
    parsec_fee_version = models.PositiveIntegerField(default=0, editable=False)
    # What Parsec last answered this builder user's fee is (None: the escrow's default), and when;
    # parsec_fee_read_at None means it has not answered it yet.
    parsec_fee_bps = models.PositiveIntegerField(null=True, blank=True, editable=False)
    parsec_fee_read_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Parsec's refusal of the partner's fee version fee_sync_refused_version, kept until a later fee is
    # taken: the builder user still carries the fee of parsec_fee_version.
    fee_sync_refused_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    fee_sync_error = models.TextField(blank=True, default="", editable=False)
    # Parsec binds one signer EOA to a builder user for good, so replacing the signer means a new
    # builder user: this counts them (it is part of the external id Parsec knows the customer by), and
    # the ids of the earlier ones are kept, newest last.
    parsec_generation = models.PositiveIntegerField(default=0, editable=False)
    previous_parsec_customer_ids = models.JSONField(default=list, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    provisioning_error = models.TextField(blank=True, default="")  # why Parsec refused, when it did
    # When provisioning work was last put on the queue; the sweep re-enqueues what a lost message left.
    provisioning_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["partner", "external_id"], name="customers_customer_external_id"),
            models.CheckConstraint(
                condition=Q(status__in=["provisioning", "active", "disabled"]),
                name="customers_customer_status_valid",
            ),
            # Active means fully provisioned at Parsec.
            models.CheckConstraint(
                condition=~Q(status="active") | Q(parsec_customer_id__isnull=False),
                name="customers_customer_active_has_parsec_id",
            ),
        ]
        indexes = [
            # GET /customers: one partner's customers, newest first (cursor pagination), optionally by status.
            models.Index(fields=["partner", "-created_at", "-id"], name="customers_partner_created"),
            models.Index(fields=["partner", "status", "-created_at"], name="customers_partner_status"),
            # The provisioning sweep reads only customers still provisioning.
            models.Index(
                fields=["provisioning_requested_at"],
                condition=Q(status="provisioning"),
                name="customers_provisioning_sweep",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.id})"


class Wallet(models.Model):
    """An address a customer controls: the EOA that signs, or the payer fees are pulled from.

    The current signer (and payer) of a customer is the one row per role whose `replaced_at` is null;
    a partial unique constraint makes it unambiguous. A wallet that stops being current keeps its row
    with `replaced_at` set, so history survives: a signer is replaced only on the partner's explicit
    request, with its payer (see services.wallet_signer_link).
    """

    class Role(models.TextChoices):
        SIGNER = "signer", "Signer"
        PAYER = "payer", "Payer"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="wallets")
    address = models.CharField(max_length=42, validators=[validate_checksummed_address])
    role = models.CharField(max_length=8, choices=Role.choices)
    # Signer: when the customer's signature was checked. Payer: when Parsec's onboarding returned it.
    verified_at = models.DateTimeField()
    replaced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = GenerationBumpingQuerySet.as_manager()  # a cached read (generations.store)

    class Meta:
        ordering = ("-created_at",)
        constraints = [
            models.UniqueConstraint(fields=["customer", "role", "address"], name="customers_wallet_address"),
            models.UniqueConstraint(
                fields=["customer", "role"],
                condition=Q(replaced_at__isnull=True),
                name="customers_wallet_one_current_per_role",
            ),
            models.CheckConstraint(
                condition=Q(role__in=["signer", "payer"]), name="customers_wallet_role_valid"
            ),
            models.CheckConstraint(
                condition=Q(address__regex=ADDRESS_REGEX), name="customers_wallet_address_shape"
            ),
        ]
        indexes = [
            # Admin search and wallet sign-in find customers by address.
            models.Index(fields=["address"], name="customers_wallet_address_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.address}"

    @property
    def is_current(self) -> bool:
        return self.replaced_at is None


class WalletChallenge(models.Model):
    """A Sign-In with Ethereum message issued for one address, usable once before it expires.

    `customer` is null for the web frontend's sign-in, where the signer is not yet known to be anyone.
    """

    nonce = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="wallet_challenges"
    )
    address = models.CharField(max_length=42, validators=[validate_checksummed_address])
    message = models.TextField()  # the exact text issued; a signed message must equal it byte for byte
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-issued_at",)
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("issued_at")), name="customers_challenge_expiry"
            ),
        ]
        indexes = [
            # Purging expired challenges reads by expiry.
            models.Index(fields=["expires_at"], name="customers_challenge_expires"),
            # The cap on open challenges counts one address's unexpired ones.
            models.Index(fields=["address", "expires_at"], name="customers_challenge_address"),
        ]

    def __str__(self) -> str:
        return f"challenge {self.nonce[:8]}… for {self.address}"
