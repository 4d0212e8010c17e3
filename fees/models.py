"""Escrow config, the fee authorization an order carries (its fee axis), and the append-only fee ledger."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from customers.addresses import ADDRESS_REGEX
from customers.models import BPS_MAX, Customer, Partner

BYTES32_REGEX = r"^0x[0-9a-f]{64}$"
SIGNATURE_REGEX = r"^0x[0-9a-f]{130}$"
BIGINT_MAX = 2**63 - 1  # the largest USDC base-unit amount a BigIntegerField holds


class EscrowConfig(models.Model):
    """Parsec's `/builder/escrow/config` as last fetched: a single row (id 1), replaced on each refresh."""

    SINGLETON_ID = 1

    id = models.PositiveSmallIntegerField(primary_key=True, default=SINGLETON_ID, editable=False)
    escrow_contract_address = models.CharField(max_length=42)
    chain_id = models.PositiveBigIntegerField(default=137)
    fee_escrow_enabled = models.BooleanField()
    fee_bps = models.PositiveIntegerField()  # the builder's default fee
    min_fee_bps = models.PositiveIntegerField()
    min_fee_usdc = models.BigIntegerField()  # USDC base units
    affiliate_fee_bps = models.PositiveIntegerField()  # the affiliate's share of each distributed fee
    affiliate_address = models.CharField(max_length=42, blank=True, default="")
    treasury_address = models.CharField(max_length=42, blank=True, default="")
    fetched_at = models.DateTimeField()  # when Parsec last answered with this config
    # The last failed refresh (empty after a success): what the 503 and the admin say when it is stale.
    last_refresh_error = models.CharField(max_length=500, blank=True, default="")
    last_refresh_failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "escrow config"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="fees_escrowconfig_singleton"),
            models.CheckConstraint(
                condition=Q(escrow_contract_address__regex=ADDRESS_REGEX),
                name="fees_escrowconfig_contract_shape",
            ),
            models.CheckConstraint(
                condition=Q(fee_bps__lte=BPS_MAX, min_fee_bps__lte=BPS_MAX, affiliate_fee_bps__lte=BPS_MAX),
                name="fees_escrowconfig_bps_range",
            ),
            models.CheckConstraint(condition=Q(min_fee_usdc__gte=0), name="fees_escrowconfig_min_fee_usdc"),
        ]

    def __str__(self) -> str:
        return f"escrow {self.escrow_contract_address} on chain {self.chain_id}"


class FeeAuthorization(models.Model):
    """One fee-bearing order's PullFee: what the customer signs, and where the fee stands (the fee axis).

    The order points here (one-to-one), not the other way round: fees sits below orders.
    """

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"  # typed data issued, waiting for the signature
        SIGNED = "signed", "Signed"  # signature verified; the order may be sent
        ESCROWED = "escrowed", "Escrowed"  # Parsec accepted the order: the fee is held in escrow
        SETTLED = "settled", "Settled"  # final: the filled part distributed, the rest refunded
        REFUNDED = "refunded", "Refunded"  # final: nothing filled, all refunded
        EXPIRED = "expired", "Expired"  # final: never pulled (deadline passed or the order failed)

    SIGNED_STATES = (State.SIGNED, State.ESCROWED, State.SETTLED, State.REFUNDED)
    FINAL_STATES = (State.SETTLED, State.REFUNDED, State.EXPIRED)

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="fee_authorizations")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="fee_authorizations")
    exchange = models.CharField(max_length=32)
    # The escrow's orderId: 32 random bytes chosen here, "0x" + 64 lowercase hex; the escrow takes each once.
    escrow_order_id = models.CharField(max_length=66, unique=True)
    chain_id = models.PositiveBigIntegerField()
    verifying_contract = models.CharField(max_length=42)  # the escrow contract named in the domain
    payer = models.CharField(max_length=42)  # the customer's payer wallet when requested
    signer = models.CharField(max_length=42)  # the customer's signer wallet when requested
    fee_bps = models.PositiveIntegerField()
    fee_amount = models.BigIntegerField()  # USDC base units
    minimum_applied = models.BooleanField(default=False)  # fee_amount is the escrow's min_fee_usdc
    # Distribution terms fixed when the fee is requested, so a later config change cannot move a split:
    # the affiliate's share of each distributed fee (0 when the order names no affiliate address), the
    # address that receives it, and the partner's off-chain share of it (0 when the partner is itself
    # the on-chain affiliate).
    affiliate_fee_bps = models.PositiveIntegerField(default=0)
    affiliate_address = models.CharField(max_length=42, blank=True, default="")
    partner_share_bps = models.PositiveIntegerField(default=0)
    # Who earns partner_share_bps: the referring partner of an attributed customer, else the partner.
    beneficiary = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    deadline = models.DateTimeField()  # whole seconds: the typed data's deadline
    typed_data = models.JSONField()  # exactly what eth_signTypedData_v4 is given
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED)
    signature = models.CharField(max_length=132, blank=True, default="")  # v as 27/28, lowercase hex
    recovered_signer = models.CharField(max_length=42, blank=True, default="")
    created_at = models.DateTimeField()
    signed_at = models.DateTimeField(null=True, blank=True)
    escrowed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)  # settled, refunded or expired

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(
                condition=Q(escrow_order_id__regex=BYTES32_REGEX), name="fees_feeauth_escrow_order_id_shape"
            ),
            models.CheckConstraint(
                condition=Q(payer__regex=ADDRESS_REGEX, signer__regex=ADDRESS_REGEX),
                name="fees_feeauth_address_shape",
            ),
            models.CheckConstraint(
                condition=Q(fee_amount__gt=0, fee_bps__gt=0, fee_bps__lte=BPS_MAX),
                name="fees_feeauth_fee_positive",
            ),
            models.CheckConstraint(
                condition=Q(affiliate_fee_bps__lte=BPS_MAX, partner_share_bps__lte=BPS_MAX),
                name="fees_feeauth_split_bps_range",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["requested", "signed", "escrowed", "settled", "refunded", "expired"]),
                name="fees_feeauth_state_valid",
            ),
            # A state past `signed` always carries the verified signature and who made it.
            models.CheckConstraint(
                condition=Q(state__in=["requested", "expired"])
                | (Q(signature__regex=SIGNATURE_REGEX, signed_at__isnull=False) & ~Q(recovered_signer="")),
                name="fees_feeauth_signed_has_signature",
            ),
        ]
        indexes = [
            # Admin search by payer or signer.
            models.Index(fields=["payer"], name="fees_feeauth_payer"),
            models.Index(fields=["signer"], name="fees_feeauth_signer"),
            models.Index(fields=["partner", "-created_at"], name="fees_feeauth_partner_created"),
        ]

    def __str__(self) -> str:
        return f"fee {self.escrow_order_id[:10]}… {self.state}"

    def __repr__(self) -> str:
        # Never the signature: a repr ends up in logs and tracebacks.
        return f"<FeeAuthorization {self.pk} {self.state} {self.fee_amount} base units>"


class FeeLedgerEntry(models.Model):
    """One append-only movement of a fee, in integer USDC base units; statements are sums of these."""

    class Kind(models.TextChoices):
        AUTHORIZED = "authorized", "Authorized"  # pulled into escrow when Parsec accepted the order
        DISTRIBUTED_AFFILIATE = "distributed_affiliate", "Distributed to the affiliate"
        DISTRIBUTED_TREASURY = "distributed_treasury", "Distributed to the treasury"
        REFUNDED = "refunded", "Refunded"  # the unfilled part, when the order became final
        PARTNER_SHARE = "partner_share", "Partner share"  # owed off-chain out of the affiliate income

    ONCE_PER_AUTHORIZATION = (Kind.AUTHORIZED, Kind.REFUNDED)
    PER_FILL = (Kind.DISTRIBUTED_AFFILIATE, Kind.DISTRIBUTED_TREASURY, Kind.PARTNER_SHARE)

    fee_authorization = models.ForeignKey(
        FeeAuthorization, on_delete=models.PROTECT, related_name="ledger_entries"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    fill_id = models.CharField(max_length=128, blank=True, default="")  # Parsec's, for per-fill kinds only
    amount = models.BigIntegerField()  # USDC base units, never negative: a movement's kind says its way
    # Copied from the authorization so statements group without joins.
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="fee_ledger_entries")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="fee_ledger_entries")
    exchange = models.CharField(max_length=32)
    # partner_share rows only: the partner that earns it (the referring partner of a referred customer).
    beneficiary = models.ForeignKey(
        Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "fee ledger entry"
        verbose_name_plural = "fee ledger entries"
        ordering = ("-created_at", "-id")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="fees_ledger_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "authorized",
                        "distributed_affiliate",
                        "distributed_treasury",
                        "refunded",
                        "partner_share",
                    ]
                ),
                name="fees_ledger_kind_valid",
            ),
            # Per-fill kinds name their fill; the others never do.
            models.CheckConstraint(
                condition=(
                    Q(kind__in=["distributed_affiliate", "distributed_treasury", "partner_share"])
                    & ~Q(fill_id="")
                )
                | (Q(kind__in=["authorized", "refunded"]) & Q(fill_id="")),
                name="fees_ledger_fill_id_per_fill_only",
            ),
            models.UniqueConstraint(
                fields=["fee_authorization", "kind"],
                condition=Q(kind__in=["authorized", "refunded"]),
                name="fees_ledger_once_per_authorization",
            ),
            models.UniqueConstraint(
                fields=["fee_authorization", "kind", "fill_id"],
                condition=Q(kind__in=["distributed_affiliate", "distributed_treasury", "partner_share"]),
                name="fees_ledger_once_per_fill",
            ),
        ]
        indexes = [
            # Statements: one partner's entries over a date range.
            models.Index(fields=["partner", "created_at"], name="fees_ledger_partner_created"),
            # Admin's chart and date filter over every partner.
            models.Index(fields=["created_at"], name="fees_ledger_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.fee_authorization_id})"


# Commissions and payouts: a module of their own, registered with the app here.
from fees.commission_models import Commission, Payout  # noqa: E402, F401
