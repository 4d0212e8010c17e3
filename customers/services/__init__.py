"""Customers' writes, one module per concern; the public names are re-exported here for callers.

- `partners`: partners and their API keys.
- `accounts`: a partner's customers (idempotent create, update, provisioning retry).
- `wallets`: wallet challenges (Sign-In with Ethereum) and the signer wallet link.
- `provisioning`: the builder user and onboarding at Parsec, and the provisioning sweep.
- `fee_sync`: the partner's fee onto its customers' builder users at Parsec.

Services enqueue their tasks by name (`builder_platform.enqueue`); they never import `customers.tasks`.
"""

from customers.errors import CustomerError, WalletProofError
from customers.services.accounts import (
    EXTERNAL_ID_MAX_LENGTH,
    customer_create,
    customer_provisioning_retry,
    customer_update,
    external_id_problem,
)
from customers.services.fee_sync import customer_fee_sync, partner_fee_changed, partner_fee_sync
from customers.services.partners import (
    partner_api_key_create,
    partner_api_key_revoke,
    partner_api_key_touch,
    partner_create,
    partner_revenue_terms_set,
    partner_status_set,
)
from customers.services.provisioning import (
    customer_parsec_id_record,
    customer_provision,
    customer_provisioning_error_record,
    customers_provisioning_sweep,
    parsec_external_id,
    wallet_onboard,
    wallet_payer_record,
)
from customers.services.wallets import (
    signer_replacement_blockers,
    wallet_challenge_create,
    wallet_challenge_verify,
    wallet_challenges_purge,
    wallet_signer_link,
)

__all__ = [
    "EXTERNAL_ID_MAX_LENGTH",
    "CustomerError",
    "WalletProofError",
    "customer_create",
    "customer_fee_sync",
    "customer_parsec_id_record",
    "customer_provision",
    "customer_provisioning_error_record",
    "customer_provisioning_retry",
    "customer_update",
    "customers_provisioning_sweep",
    "external_id_problem",
    "parsec_external_id",
    "partner_api_key_create",
    "partner_api_key_revoke",
    "partner_api_key_touch",
    "partner_create",
    "partner_fee_changed",
    "partner_fee_sync",
    "partner_revenue_terms_set",
    "partner_status_set",
    "signer_replacement_blockers",
    "wallet_challenge_create",
    "wallet_challenge_verify",
    "wallet_challenges_purge",
    "wallet_onboard",
    "wallet_payer_record",
    "wallet_signer_link",
]
