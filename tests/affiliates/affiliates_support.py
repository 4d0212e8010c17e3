"""Helpers for the affiliate tests: a referred web customer, fee-bearing orders that fill."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from eth_account import Account
from eth_account.signers.local import LocalAccount
from factories import make_customer, make_eth_account, make_partner, make_wallet

from customers.models import Customer, Partner, Wallet
from fees import services as fee_services
from fees.models import FeeAuthorization
from orders.models import Fill, Order
from parsec import client as parsec_client
from referrals import services as referral_services

NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
BUILDER_AFFILIATE = "0x39Bc708AdD3A470e59192d3c2d108e57178C80a9"
_sequence = itertools.count(1)


def store_escrow_config(*, now: datetime = NOW) -> None:
    fee_services.escrow_config_store(
        config=parsec_client.EscrowConfig(
            fee_escrow_enabled=True,
            fee_bps=25,
            affiliate_address=BUILDER_AFFILIATE,
            escrow_contract_address="0x39F35887e583ed7d6eFf6fa472359371145ba549",
            min_fee_usdc=10_000,
            min_fee_bps=1,
            treasury_address="0x24FF2f416594bEF1d4FC99BC47e239BA1FfFA81e",
            affiliate_fee_bps=5000,
            chain_id=137,
        ),
        now=now,
    )


def builtin_partner() -> Partner:
    return Partner.objects.filter(is_builtin=True).first() or make_partner(
        name="Web (built-in)", is_builtin=True
    )


@dataclass
class WebCustomer:
    customer: Customer
    signer: LocalAccount
    payer: str


def make_web_customer(label: str, *, payer: str | None = None) -> WebCustomer:
    signer = make_eth_account(f"affiliate web {label}")
    customer = make_customer(
        partner=builtin_partner(),
        external_id=f"wallet:{signer.address}",
        status=Customer.Status.ACTIVE,
        parsec_customer_id=f"parsec-{label}-{next(_sequence)}",
    )
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    payer = payer or make_eth_account(f"affiliate safe {label}").address
    make_wallet(customer=customer, address=payer, role=Wallet.Role.PAYER)
    return WebCustomer(customer=customer, signer=signer, payer=payer)


def refer(web: WebCustomer, code: str, *, now: datetime = NOW):
    return referral_services.referral_attribute(
        customer=web.customer, raw_code=code, signer=web.signer.address, now=now
    )


def escrowed_order(
    web: WebCustomer, *, price: str = "0.5", size: str = "100", now: datetime = NOW
) -> tuple[Order, FeeAuthorization]:
    """A Polymarket order of the customer with its fee signed, escrowed and booked as authorized."""
    store_escrow_config(now=now)  # fresh at `now`, whatever day the test places the order on
    authorization = fee_services.fee_authorization_request(
        partner=web.customer.partner,
        customer=web.customer,
        exchange="polymarket",
        price=Decimal(price),
        size=Decimal(size),
        now=now,
        may_refresh_config=False,  # stored fresh just above
    )
    signed = Account.sign_typed_data(web.signer.key, full_message=authorization.typed_data)
    fee_services.fee_authorization_verify(
        fee_authorization_id=authorization.pk, signature="0x" + bytes(signed.signature).hex(), now=now
    )
    assert fee_services.fee_authorization_mark_escrowed(fee_authorization_id=authorization.pk, now=now)
    authorization.refresh_from_db()
    fee_services.fee_ledger_record_authorized(fee_authorization=authorization, now=now)
    order = Order.objects.create(
        partner=web.customer.partner,
        customer=web.customer,
        exchange="polymarket",
        market_id=f"market-{next(_sequence)}",
        outcome="Yes",
        side="buy",
        price=Decimal(price),
        size=Decimal(size),
        status=Order.Status.OPEN,
        fee_authorization=authorization,
        created_at=now,
        updated_at=now,
    )
    return order, authorization


def fill(order: Order, authorization: FeeAuthorization, *, size: str, now: datetime = NOW) -> Fill:
    """A fill of the order, recorded and booked in the fee ledger as reconciliation does."""
    fill_id = f"fill-{next(_sequence)}"
    filled = order.filled + Decimal(size)
    recorded = Fill.objects.create(
        fill_id=fill_id, order=order, price=order.price, size=Decimal(size), created_at=now, recorded_at=now
    )
    Order.objects.filter(pk=order.pk).update(filled=filled)
    order.filled = filled
    fee_services.fee_ledger_record_fill(
        fee_authorization=authorization, fill_id=fill_id, filled_total=filled, size=order.size, now=now
    )
    return recorded
