"""The fees app's refusals and their codes: each a DomainError with its HTTP status. No DRF here."""

from __future__ import annotations

from enum import StrEnum

from builder_platform.failures import DomainError


class FeeErrorCode(StrEnum):
    """Every code a fees service refuses with (besides `parsec.contract.SignatureErrorCode`)."""

    SERVICE_UNAVAILABLE = "service_unavailable"  # 503: no usable escrow config
    ESCROW_CONFIG_INVALID = "escrow_config_invalid"  # 502
    FEE_LEDGER_CONFLICT = "fee_ledger_conflict"  # 409
    FEE_BPS_INVALID = "fee_bps_invalid"
    FEE_ABOVE_TIER_MAXIMUM = "fee_above_tier_maximum"
    FEE_BELOW_MINIMUM = "fee_below_minimum"
    FEE_TOO_LARGE = "fee_too_large"
    CUSTOMER_NOT_READY = "customer_not_ready"  # 409
    NOT_FOUND = "not_found"  # 404
    FEE_AUTH_EXPIRED = "fee_auth_expired"
    FEE_AUTH_USED = "fee_auth_used"
    SIGNER_REPLACED = "signer_replaced"
    SIGNER_OF_ANOTHER_CUSTOMER = "signer_of_another_customer"
    SIGNER_MISMATCH = "signer_mismatch"
    PAYER_MISMATCH = "payer_mismatch"


class FeeError(DomainError):
    """An expected refusal of a fees service: an HTTP status, a machine code and a sentence to act on."""


class EscrowConfigUnavailable(FeeError):
    """No usable escrow config (never fetched, or too old and Parsec cannot be reached): a 503."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=FeeErrorCode.SERVICE_UNAVAILABLE, status=503)


class EscrowConfigInvalid(FeeError):
    """Parsec answered an escrow config we cannot use (a malformed address, bps out of range)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=FeeErrorCode.ESCROW_CONFIG_INVALID, status=502)


class FeeLedgerError(FeeError):
    """A ledger write that would break its invariants (more distributed than authorized, out of order)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code=FeeErrorCode.FEE_LEDGER_CONFLICT, status=409)
