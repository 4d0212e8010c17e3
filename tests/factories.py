"""Test data as plain functions: partners, API keys, customers, wallets and Ethereum test accounts."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime

from django.utils import timezone
from eth_account import Account
from eth_account.signers.local import LocalAccount

from customers import services
from customers.models import Customer, Partner, PartnerApiKey, Wallet

_sequence = itertools.count(1)


def make_partner(*, name: str | None = None, **fields) -> Partner:
    return Partner.objects.create(name=name or f"Partner {next(_sequence)}", **fields)


def make_api_key(*, partner: Partner | None = None) -> tuple[PartnerApiKey, str]:
    """A key and its raw text, made by the same service admins use."""
    return services.partner_api_key_create(partner=partner or make_partner())


def make_customer(*, partner: Partner | None = None, external_id: str | None = None, **fields) -> Customer:
    """A customer row only: no provisioning is queued."""
    return Customer.objects.create(
        partner=partner or make_partner(),
        external_id=external_id or f"user-{next(_sequence)}",
        provisioning_requested_at=fields.pop("provisioning_requested_at", timezone.now()),
        **fields,
    )


def make_wallet(
    *, customer: Customer, address: str, role: str = Wallet.Role.SIGNER, verified_at: datetime | None = None
) -> Wallet:
    return Wallet.objects.create(
        customer=customer, address=address, role=role, verified_at=verified_at or timezone.now()
    )


def make_eth_account(label: str = "") -> LocalAccount:
    """A deterministic test key: the same label gives the same address in every run."""
    seed = hashlib.sha256(f"builder-platform test key {label or next(_sequence)}".encode()).digest()
    return Account.from_key(seed)
