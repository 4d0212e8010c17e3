"""Pure fee policy: which partner fees are allowed, and the fee an order would carry. No database, no HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from customers.models import BPS_MAX, Partner
from fees.errors import EscrowConfigUnavailable, FeeError, FeeErrorCode
from fees.models import EscrowConfig
from parsec.contract import (
    FEE_ESCROW_EXCHANGES,
    fee_amount_for,
)

# --- Partner fee policy ------------------------------------------------------------------------------


def partner_fee_validate(*, fee_bps: int | None, config: EscrowConfig | None) -> None:
    """Refuse a partner fee outside the escrow's minimum and the builder tier's cap; never clamp it.

    None (use the escrow's default) and 0 (attribution only, no fee) are always allowed. Without a
    config (none fetched yet) the minimum is FEE_MIN_BPS_FALLBACK; an order re-checks against the config.
    """
    if fee_bps is None or fee_bps == 0:
        return
    if isinstance(fee_bps, bool) or not isinstance(fee_bps, int) or not 0 < fee_bps <= BPS_MAX:
        raise FeeError(
            "fee_bps must be a whole number of basis points from 0 to 10000.",
            code=FeeErrorCode.FEE_BPS_INVALID,
        )
    tier_max = settings.BUILDER_TIER_MAX_FEE_BPS
    if fee_bps > tier_max:
        raise FeeError(
            f"A fee of {fee_bps} bps is above the builder tier's maximum of {tier_max} bps; "
            f"choose {tier_max} or less (0 for attribution only).",
            code=FeeErrorCode.FEE_ABOVE_TIER_MAXIMUM,
        )
    minimum = config.min_fee_bps if config is not None else settings.FEE_MIN_BPS_FALLBACK
    if fee_bps < minimum:
        whose = "Parsec's escrow minimum" if config is not None else "the minimum (no escrow config read yet)"
        raise FeeError(
            f"A fee of {fee_bps} bps is below {whose} of {minimum} bps; "
            f"choose at least {minimum}, or 0 for attribution only.",
            code=FeeErrorCode.FEE_BELOW_MINIMUM,
        )


# --- Quotes ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeeQuote:
    fee_bps: int
    fee_amount: int  # USDC base units
    minimum_applied: bool  # the escrow's min_fee_usdc, not the rate, set the amount

    @property
    def charged(self) -> bool:
        return self.fee_amount > 0


NO_FEE = FeeQuote(fee_bps=0, fee_amount=0, minimum_applied=False)


def fee_applies(*, partner: Partner, exchange: str) -> bool:
    """Whether an order may carry a fee at all, before any config is read: a fee escrow exists on the
    exchange and the partner's fee is not 0. Orders for which this is False never need the config."""
    return exchange in FEE_ESCROW_EXCHANGES and partner.fee_bps != 0


def fee_quote(
    *, partner: Partner, exchange: str, price: Decimal, size: Decimal, config: EscrowConfig | None
) -> FeeQuote:
    """The fee an order would carry: the partner's rate (or the escrow's default) on price x size.

    Rounded by Parsec's rule (`fee_amount_for`: up, to whole base units, at least min_fee_usdc).
    """
    if not fee_applies(partner=partner, exchange=exchange):
        return NO_FEE
    if config is None:
        raise EscrowConfigUnavailable(
            "Orders that carry a builder fee are paused: Parsec's fee escrow configuration is not known yet."
        )
    if not config.fee_escrow_enabled:
        return NO_FEE
    fee_bps = partner.fee_bps if partner.fee_bps is not None else config.fee_bps
    if fee_bps == 0:
        return NO_FEE
    amount = fee_amount_for(price=price, size=size, fee_bps=fee_bps, min_fee_usdc=config.min_fee_usdc)
    by_rate = fee_amount_for(price=price, size=size, fee_bps=fee_bps, min_fee_usdc=0)
    return FeeQuote(fee_bps=fee_bps, fee_amount=amount, minimum_applied=amount > by_rate)
