"""The customers app's Celery task names, which are also their routing keys: services enqueue by name."""

from enum import StrEnum


class CustomerTask(StrEnum):
    PROVISION = "customers.provision"
    ONBOARD = "customers.onboard"
    SYNC_PARTNER_FEE = "customers.sync_partner_fee"
    PURGE_WALLET_CHALLENGES = "customers.purge_wallet_challenges"
    SWEEP_PROVISIONING = "customers.sweep_provisioning"
