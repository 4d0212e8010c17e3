"""The fees app's refusals: each a DomainError with its machine code and HTTP status."""

from __future__ import annotations

from rest_framework import status

from builder_platform.api import ApiError


class FeeError(ApiError):
    """An expected refusal: an HTTP status, a machine code and a sentence the caller can act on.

    An ApiError, so an API view that lets it through answers in the platform's error shape; `status`,
    `code` and `message` are also plain attributes for callers that translate it themselves.
    """

    def __init__(self, message: str, *, code: str, status: int = status.HTTP_400_BAD_REQUEST) -> None:
        super().__init__(status_code=status, code=code, message=message)
        self.status = status
        self.code = code


class EscrowConfigUnavailable(FeeError):
    """No usable escrow config (never fetched, or too old and Parsec cannot be reached): a 503."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="service_unavailable", status=status.HTTP_503_SERVICE_UNAVAILABLE)


class EscrowConfigInvalid(FeeError):
    """Parsec answered an escrow config we cannot use (a malformed address, bps out of range)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="escrow_config_invalid", status=status.HTTP_502_BAD_GATEWAY)


class FeeLedgerError(FeeError):
    """A ledger write that would break its invariants (more distributed than authorized, out of order)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="fee_ledger_conflict", status=status.HTTP_409_CONFLICT)
