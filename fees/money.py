"""The one rounding rule for splitting a fee already authorized: cumulative floor, parts summing exactly.

Quotes round up, and that rule is Parsec's (`parsec.contract.fee_amount_for`). Everything that splits
an authorized amount rounds down, cumulatively: after a cumulative fill F of an order of size S the
distributed total is floor(fee x F / S), and each fill books the difference from what is already
booked. Rounding never accumulates, the last fill lands exactly on the fee, and a two-way split books
one part by the rule and the other as the remainder, so parts always add up to the whole.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

BPS_DENOMINATOR = 10_000
USDC_DECIMALS = 6
USDC_BASE_UNITS = 10**USDC_DECIMALS


def cumulative_share(total: int, *, part: Decimal, whole: Decimal) -> int:
    """floor(total x part / whole) in base units, exactly; `part` is clamped into [0, whole].

    Decimal to Fraction is lossless, so no precision setting can round a share the wrong way.
    """
    if whole <= 0:
        raise ValueError("whole must be positive")
    fraction = min(max(Fraction(part), Fraction(0)), Fraction(whole)) / Fraction(whole)
    return (total * fraction.numerator) // fraction.denominator


def bps_share(amount: int, bps: int) -> int:
    """floor(amount x bps / 10000): the basis-point share of an integer amount."""
    if not 0 <= bps <= BPS_DENOMINATOR:
        raise ValueError("bps must be from 0 to 10000")
    return amount * bps // BPS_DENOMINATOR


def usdc_text(base_units: int) -> str:
    """Base units as a USDC decimal string with all six places: 137500 -> "0.137500"."""
    sign = "-" if base_units < 0 else ""
    whole, fraction = divmod(abs(base_units), USDC_BASE_UNITS)
    return f"{sign}{whole}.{fraction:0{USDC_DECIMALS}d}"
