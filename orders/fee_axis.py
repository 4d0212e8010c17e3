"""The order's fee axis: every call from orders into the fees services, in one place.

Each function runs inside the caller's transaction, right after the order transition it belongs to,
so the order and its fee authorization (and ledger) never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal

from fees import services as fees
from fees.models import FeeAuthorization
from orders.errors import OrderError

# A ledger write the fees service refuses (it would break the ledger's invariants): left for the next pass.
LedgerConflict = fees.FeeLedgerError
# A refusal of the fees service (a bad signature, a fee the escrow no longer allows, no escrow config).
FeeError = fees.FeeError


@contextmanager
def fee_refusals_as_order_errors() -> Iterator[None]:
    """The fees service's refusals, raised on as OrderError with the same code, status and sentence.

    So a caller of an order service catches one type (the fee's part of an order is still the order's).
    """
    try:
        yield
    except LedgerConflict:
        raise
    except FeeError as error:
        raise OrderError(
            error.message, code=error.code, status=error.status, fields=getattr(error, "fields", None)
        ) from error


def fee_config_ready(*, partner, exchange: str, now: datetime) -> None:
    """Make sure a fee-bearing order will find a fresh escrow config inside its transaction.

    Reading it may refresh it from Parsec over HTTP, which the fees service does only outside a
    transaction; raises EscrowConfigUnavailable (a 503) when it cannot be had.
    """
    if fees.fee_applies(partner=partner, exchange=exchange):
        fees.escrow_config_current(now=now, may_refresh=True)


def fee_requested(*, order_fields: dict, now: datetime) -> FeeAuthorization | None:
    """The fee authorization a new order must get signed, or None for an order that carries no fee."""
    return fees.fee_authorization_request(
        partner=order_fields["partner"],
        customer=order_fields["customer"],
        exchange=order_fields["exchange"],
        price=order_fields["price"],
        size=order_fields["size"],
        now=now,
        may_refresh_config=False,  # inside the order's transaction; fee_config_ready refreshed it
    )


def fee_signed(*, fee_authorization_id: int, signature: str, now: datetime) -> None:
    """Verify the customer's signature of the PullFee; raises the fees service's FeeError."""
    fees.fee_authorization_verify(fee_authorization_id=fee_authorization_id, signature=signature, now=now)


def fee_accepted(*, fee_authorization: FeeAuthorization | None, now: datetime) -> None:
    """Parsec accepted the order: the fee is in escrow, and the ledger records it as authorized."""
    if fee_authorization is None:
        return
    if fees.fee_authorization_mark_escrowed(fee_authorization_id=fee_authorization.pk, now=now):
        fees.fee_ledger_record_authorized(fee_authorization=fee_authorization, now=now)


def fee_never_pulled(*, fee_authorization: FeeAuthorization | None, now: datetime) -> None:
    """The order ended without Parsec accepting it: the authorization can never be used."""
    if fee_authorization is None:
        return
    fees.fee_authorization_mark_expired(fee_authorization_id=fee_authorization.pk, now=now)


def fee_filled(
    *, fee_authorization: FeeAuthorization | None, fill_id: str, filled_total: Decimal, size: Decimal
) -> None:
    """A new fill: the escrow distributes the fee for the filled part so far."""
    if fee_authorization is None:
        return
    fees.fee_ledger_record_fill(
        fee_authorization=fee_authorization, fill_id=fill_id, filled_total=filled_total, size=size
    )


def fee_final(
    *, fee_authorization: FeeAuthorization | None, filled_total: Decimal, size: Decimal, now: datetime
) -> None:
    """The order is final and its fills are recorded: the unfilled part of the fee is refunded."""
    if fee_authorization is None:
        return
    fees.fee_ledger_record_final(
        fee_authorization=fee_authorization, filled_total=filled_total, size=size, now=now
    )
