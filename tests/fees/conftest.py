"""Fixtures for the fee tests: an escrow config, a customer with a signer and a payer, a fake Parsec."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import pytest
from fees_support import NOW, FakeParsec, FeeCustomer, make_fee_customer, store_escrow_config

from fees import services
from fees.models import EscrowConfig, FeeAuthorization


@pytest.fixture
def escrow_config(db) -> EscrowConfig:
    return store_escrow_config()


@pytest.fixture
def fake_parsec(monkeypatch) -> FakeParsec:
    from parsec import conf

    fake = FakeParsec()
    monkeypatch.setattr(conf, "get_client", lambda: fake)
    return fake


@pytest.fixture
def fee_customer(db) -> FeeCustomer:
    return make_fee_customer(label="default")


@pytest.fixture
def request_fee(fee_customer, escrow_config) -> Callable[..., FeeAuthorization]:
    """Request a fee authorization for fee_customer on Polymarket (100 @ 0.55 unless told otherwise)."""

    def request(
        price: str = "0.55", size: str = "100", now: datetime = NOW, customer: FeeCustomer | None = None
    ) -> FeeAuthorization:
        who = customer or fee_customer
        authorization = services.fee_authorization_request(
            may_refresh_config=True,
            partner=who.partner,
            customer=who.customer,
            exchange="polymarket",
            price=Decimal(price),
            size=Decimal(size),
            now=now,
        )
        assert authorization is not None
        return authorization

    return request
