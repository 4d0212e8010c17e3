"""Ethereum addresses as the platform stores them: EIP-55 checksummed, refused when the checksum is wrong."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from eth_utils import to_checksum_address

ADDRESS_PATTERN = re.compile(r"0x[0-9a-fA-F]{40}")
# The same shape as a database CHECK, so a row can never hold something that is not an address.
ADDRESS_REGEX = r"^0x[0-9a-fA-F]{40}$"


class InvalidAddress(ValueError):
    """The value is not an Ethereum address, or its mixed-case checksum is wrong."""


def checksum_address(value: object) -> str:
    """The EIP-55 form of an address given in any case; a mixed-case address must already be correct.

    All-lowercase and all-uppercase hex carry no checksum and are accepted; mixed case is a checksum,
    and a wrong one usually means a typo, so it is refused rather than silently corrected.
    """
    if not isinstance(value, str) or ADDRESS_PATTERN.fullmatch(value) is None:
        raise InvalidAddress("Enter an Ethereum address: 0x followed by 40 hexadecimal digits.")
    checksummed = to_checksum_address(value)
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and value != checksummed:
        raise InvalidAddress("This address has a wrong EIP-55 checksum (mixed case); check it for a typo.")
    return checksummed


def validate_checksummed_address(value: str) -> None:
    """Model field validator: only the exact checksummed form is stored."""
    try:
        checksummed = checksum_address(value)
    except InvalidAddress as exc:
        raise ValidationError(str(exc), code="invalid_address") from None
    if checksummed != value:
        raise ValidationError("Store the address in its EIP-55 checksummed form.", code="not_checksummed")
