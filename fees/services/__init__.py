"""Fee writes, one module per concern; the public names are re-exported here for callers.

- `escrow_config`: Parsec's fee escrow configuration, fetched and kept fresh.
- `partner_fee`: the one path that changes a partner's fee (`partner_fee_set`).
- `authorizations`: the PullFee a customer signs, its verification and its states.
- `ledger`: the fee ledger (authorized, distributed per fill, refunded).

The pure policy (allowed fees, quotes) is `fees.policy`; reads are `fees.selectors`.
"""

from fees.errors import EscrowConfigInvalid, EscrowConfigUnavailable, FeeError, FeeLedgerError
from fees.policy import NO_FEE, FeeQuote, fee_applies, fee_quote, partner_fee_validate
from fees.services.authorizations import (
    MAX_FEE_AUTH_DEADLINE_SECONDS,
    fee_authorization_mark_escrowed,
    fee_authorization_mark_expired,
    fee_authorization_mark_refunded,
    fee_authorization_mark_settled,
    fee_authorization_request,
    fee_authorization_verify,
)
from fees.services.escrow_config import (
    escrow_config_current,
    escrow_config_is_fresh,
    escrow_config_refresh,
    escrow_config_store,
)
from fees.services.ledger import fee_ledger_record_authorized, fee_ledger_record_fill, fee_ledger_record_final
from fees.services.partner_fee import partner_fee_set

__all__ = [
    "MAX_FEE_AUTH_DEADLINE_SECONDS",
    "NO_FEE",
    "EscrowConfigInvalid",
    "EscrowConfigUnavailable",
    "FeeError",
    "FeeLedgerError",
    "FeeQuote",
    "escrow_config_current",
    "escrow_config_is_fresh",
    "escrow_config_refresh",
    "escrow_config_store",
    "fee_applies",
    "fee_authorization_mark_escrowed",
    "fee_authorization_mark_expired",
    "fee_authorization_mark_refunded",
    "fee_authorization_mark_settled",
    "fee_authorization_request",
    "fee_authorization_verify",
    "fee_ledger_record_authorized",
    "fee_ledger_record_fill",
    "fee_ledger_record_final",
    "fee_quote",
    "partner_fee_set",
    "partner_fee_validate",
]
