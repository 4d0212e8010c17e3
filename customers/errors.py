"""The customers app's refusals: a machine code and a sentence the caller can act on."""

from __future__ import annotations


class CustomerError(Exception):
    """An expected refusal, with a machine code and a sentence the caller can act on."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class WalletProofError(CustomerError):
    """A signed wallet challenge that does not prove what it should."""
