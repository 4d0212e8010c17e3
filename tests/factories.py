"""Test data as plain functions: partners, API keys, customers, wallets and Ethereum test accounts."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime

from django.utils import timezone
from eth_account import Account
from eth_account.signers.local import LocalAccount

from audit.services import Actor
from customers import services
from customers.models import Customer, Partner, PartnerApiKey, Wallet

_sequence = itertools.count(1)


def make_partner(*, name: str | None = None, **fields) -> Partner:
    return Partner.objects.create(name=name or f"Partner {next(_sequence)}", **fields)


def make_api_key(*, partner: Partner | None = None) -> tuple[PartnerApiKey, str]:
    """A key and its raw text, made by the same service admins use."""
    return services.partner_api_key_create(
        actor=Actor.system("test set-up"), partner=partner or make_partner()
    )


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


def make_fee_authorization(
    *, customer: Customer, fee_amount: int, created_at: datetime | None = None, **fields
):
    """A fee authorization row as requested (no signature), for admin and ledger displays."""
    from fees.models import FeeAuthorization

    now = created_at or timezone.now()
    values = {
        "partner": customer.partner,
        "customer": customer,
        "exchange": "polymarket",
        "escrow_order_id": "0x" + hashlib.sha256(f"escrow {next(_sequence)}".encode()).hexdigest(),
        "chain_id": 137,
        "verifying_contract": "0x39F35887e583ed7d6eFf6fa472359371145ba549",
        "payer": make_eth_account("payer").address,
        "signer": make_eth_account("signer").address,
        "fee_bps": 25,
        "fee_amount": fee_amount,
        "deadline": now,
        "typed_data": {},
        "created_at": now,
        **fields,
    }
    return FeeAuthorization.objects.create(**values)


def make_ledger_entry(*, authorization, kind: str, amount: int, created_at: datetime, fill_id: str = ""):
    """One ledger row written directly: tests of the displays choose the days entries fall on."""
    from fees.models import FeeLedgerEntry

    return FeeLedgerEntry.objects.create(
        fee_authorization=authorization,
        kind=kind,
        amount=amount,
        fill_id=fill_id,
        partner=authorization.partner,
        customer=authorization.customer,
        exchange=authorization.exchange,
        created_at=created_at,
    )
