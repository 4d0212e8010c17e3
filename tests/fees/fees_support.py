"""Helpers for the fee tests: Parsec's escrow config answers, customers with wallets, signing, escrowing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from factories import make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Partner, Wallet
from fees import services
from fees.models import EscrowConfig, FeeAuthorization
from parsec import client as parsec_client

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
ESCROW_CONTRACT = "0x39F35887e583ed7d6eFf6fa472359371145ba549"
TREASURY = "0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e"
BUILDER_AFFILIATE = "0x39Bc708AdD3A470e59192d3c2d108e57178C80a9"


def parsec_escrow_config(**overrides: Any) -> parsec_client.EscrowConfig:
    """Parsec's answer to GET /builder/escrow/config, as the client parses it."""
    values: dict[str, Any] = {
        "fee_escrow_enabled": True,
        "fee_bps": 25,
        "affiliate_address": BUILDER_AFFILIATE,
        "escrow_contract_address": ESCROW_CONTRACT,
        "min_fee_usdc": 10_000,
        "min_fee_bps": 1,
        "treasury_address": TREASURY,
        "affiliate_fee_bps": 5000,
        "chain_id": 137,
    }
    values.update(overrides)
    return parsec_client.EscrowConfig(**values)


def store_escrow_config(*, now: datetime = NOW, **overrides: Any) -> EscrowConfig:
    return services.escrow_config_store(config=parsec_escrow_config(**overrides), now=now)


@dataclass
class FakeParsec:
    """Stands in for the ParsecClient on the escrow config endpoint; counts the calls."""

    answers: list[Any] = field(default_factory=list)  # an EscrowConfig to answer or an exception to raise
    calls: int = 0

    def get_escrow_config(self) -> parsec_client.EscrowConfig:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else parsec_escrow_config()
        if isinstance(answer, BaseException):
            raise answer
        return answer


def parsec_down() -> parsec_client.ParsecUnavailable:
    return parsec_client.ParsecUnavailable(status=503, code="service_unavailable", message="maintenance")


@dataclass
class FeeCustomer:
    partner: Partner
    customer: Customer
    signer: LocalAccount
    payer: str

    def sign(self, authorization: FeeAuthorization, account: LocalAccount | None = None) -> str:
        signed = Account.sign_typed_data((account or self.signer).key, full_message=authorization.typed_data)
        return "0x" + bytes(signed.signature).hex()


def make_fee_customer(*, label: str = "", **partner_fields: Any) -> FeeCustomer:
    partner = make_partner(**partner_fields)
    customer = make_customer(
        partner=partner, status=Customer.Status.ACTIVE, parsec_customer_id=f"p-{partner.pk}"
    )
    signer = make_eth_account(f"fee signer {label or partner.pk}")
    payer = make_eth_account(f"fee payer safe {label or partner.pk}").address
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    make_wallet(customer=customer, address=payer, role=Wallet.Role.PAYER)
    return FeeCustomer(partner=partner, customer=customer, signer=signer, payer=payer)


def escrowed(authorization: FeeAuthorization, *, signature: str, now: datetime = NOW) -> FeeAuthorization:
    """Sign, mark escrowed and book the authorized fee, as the order flow does when Parsec accepts."""
    services.fee_authorization_verify(fee_authorization_id=authorization.pk, signature=signature, now=now)
    assert services.fee_authorization_mark_escrowed(fee_authorization_id=authorization.pk, now=now)
    authorization.refresh_from_db()
    services.fee_ledger_record_authorized(fee_authorization=authorization, now=now)
    return authorization
