"""The customers app's refusals and their codes: each a DomainError with a sentence to act on."""

from __future__ import annotations

from enum import StrEnum

from builder_platform.failures import DomainError


class CustomerErrorCode(StrEnum):
    """Every code a customers service refuses with (the API answers them as they are)."""

    NOT_FOUND = "not_found"  # 404: a missing id, a malformed one and another partner's customer alike
    INVALID_EXTERNAL_ID = "invalid_external_id"
    CUSTOMER_EMAIL_DIFFERS = "customer_email_differs"  # 409
    CUSTOMER_STILL_PROVISIONING = "customer_still_provisioning"  # 409
    INVALID_STATUS = "invalid_status"
    CUSTOMER_DISABLED = "customer_disabled"  # 409
    INVALID_ADDRESS = "invalid_address"
    TOO_MANY_CHALLENGES = "too_many_challenges"  # 429
    SIGNER_LINKED_TO_ANOTHER_CUSTOMER = "signer_linked_to_another_customer"  # 409
    SIGNER_ALREADY_LINKED = "signer_already_linked"  # 409
    CUSTOMER_HAS_OPEN_ORDERS = "customer_has_open_orders"  # 409
    KEY_READ_ONLY = "key_read_only"  # 403: a read key sent a write
    LAST_WRITE_KEY = "last_write_key"  # 409: revoking the partner's last active read_write key
    PARTNER_SUSPENDED = "partner_suspended"  # 409: a suspended partner's write (reads and cancels go on)


class WalletProofErrorCode(StrEnum):
    """Why a signed wallet challenge proves nothing (besides the codes of `siwe.SignatureCode`)."""

    INVALID_ADDRESS = "invalid_address"
    MESSAGE_MALFORMED = "message_malformed"
    ADDRESS_MISMATCH = "address_mismatch"
    MESSAGE_MISMATCH = "message_mismatch"
    CHALLENGE_NOT_FOUND = "challenge_not_found"
    CHALLENGE_USED = "challenge_used"  # 409
    CHALLENGE_EXPIRED = "challenge_expired"
    SIGNER_MISMATCH = "signer_mismatch"


class CustomerError(DomainError):
    """An expected refusal of a customers service: a machine code, a sentence and its HTTP status."""


class WalletProofError(CustomerError):
    """A signed wallet challenge that does not prove what it should."""


def partner_suspended_refusal(*, reason: str = "", since: str = "") -> CustomerError:
    """The answer to a suspended partner's write, and to an order of a partner under a halt."""
    why = f" ({since}): {reason}" if reason else "."
    return CustomerError(
        f"This partner account is suspended{why} It can still read everything and cancel its orders; "
        "new orders and other changes are refused until the platform reactivates it.",
        code=CustomerErrorCode.PARTNER_SUSPENDED,
        status=409,
    )
