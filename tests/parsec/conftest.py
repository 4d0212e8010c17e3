"""Fixtures for the Parsec client and simulator tests: targets, customers, fee signatures, faults."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from polling import wait_until

from parsec.client import EscrowConfig, ParsecClient
from parsec.contract import pull_fee_typed_data

REAL_PARSEC_SKIP_REASON = (
    "real-Parsec variant: set PARSEC_BASE_URL and PARSEC_API_KEY to a Parsec builder account and run "
    "`pytest -m real_parsec`"
)


@dataclass
class ParsecTarget:
    """One venue the contract suite runs against: the embedded simulator or a real Parsec."""

    name: str
    client: ParsecClient
    base_url: str
    api_key: str

    @property
    def is_sim(self) -> bool:
        return self.name == "sim"

    def new_customer(self) -> str:
        return self.client.create_builder_user(external_id=f"test-{uuid.uuid4().hex}").customer_id

    def market_id(self, exchange: str) -> str:
        page = self.client.list_markets(exchanges=[exchange], limit=5)
        assert page.markets, f"{self.name} lists no market on {exchange}"
        return page.markets[0].market_id

    def client_with_key(self, api_key: str) -> ParsecClient:
        return ParsecClient(base_url=self.base_url, api_key=api_key, read_timeout=5.0, read_retries=0)


def _marker_selected(config: pytest.Config) -> bool:
    return "real_parsec" in (config.option.markexpr or "")


@pytest.fixture(params=["sim", pytest.param("real", marks=pytest.mark.real_parsec)])
def parsec_target(request: pytest.FixtureRequest) -> Iterator[ParsecTarget]:
    """The simulator over HTTP, and a real Parsec when credentials are set and -m real_parsec asks for it."""
    if request.param == "sim":
        # Requested dynamically, so pytest-django's live-server helper cannot see it: ask for what it
        # would have set up (a transactional database, the live server's host allowed).
        request.getfixturevalue("transactional_db")
        settings = request.getfixturevalue("settings")
        host = urlsplit(request.getfixturevalue("live_server").url).hostname
        if host not in settings.ALLOWED_HOSTS:
            settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, host]
        client = request.getfixturevalue("parsec_sim")
        yield ParsecTarget("sim", client, settings.PARSEC_BASE_URL, settings.PARSEC_API_KEY)
        return
    base_url = os.environ.get("PARSEC_BASE_URL", "")
    api_key = os.environ.get("PARSEC_API_KEY", "")
    if not (base_url and api_key and _marker_selected(request.config)):
        pytest.skip(REAL_PARSEC_SKIP_REASON)
    client = ParsecClient(base_url=base_url, api_key=api_key, read_timeout=15.0)
    try:
        yield ParsecTarget("real", client, base_url, api_key)
    finally:
        client.close()


def wallet_for(label: str) -> LocalAccount:
    """A deterministic wallet for tests; never holds funds."""
    return Account.from_key(keccak(label.encode()))


@pytest.fixture
def wallets() -> Callable[[str], LocalAccount]:
    return wallet_for


def random_escrow_order_id() -> str:
    return "0x" + os.urandom(32).hex()


@pytest.fixture
def sign_fee_auth() -> Callable[..., dict[str, Any]]:
    """Build a request's fee_auth object signed by ``signer`` over exactly the given fields."""

    def sign(
        signer: LocalAccount,
        *,
        config: EscrowConfig,
        payer: str,
        fee_amount: int,
        deadline: int | None = None,
        order_id: str | None = None,
    ) -> dict[str, Any]:
        order_id = order_id or random_escrow_order_id()
        deadline = deadline if deadline is not None else int(time.time()) + 300
        typed_data = pull_fee_typed_data(
            chain_id=config.chain_id,
            verifying_contract=config.escrow_contract_address,
            order_id=order_id,
            payer=payer,
            fee_amount=fee_amount,
            deadline=deadline,
        )
        signed = Account.sign_typed_data(signer.key, full_message=typed_data)
        return {
            "order_id": order_id,
            "payer": payer,
            "fee_amount": str(fee_amount),
            "deadline": deadline,
            "signature": "0x" + bytes(signed.signature).hex(),
        }

    return sign


class FaultTransport(httpx.HTTPTransport):
    """Adds the simulator's X-Sim-Fault header to the next ``times`` requests (all, if None)."""

    def __init__(self, fault: str, *, times: int | None = None) -> None:
        super().__init__()
        self.fault = fault
        self.remaining = times
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.remaining is None or self.remaining > 0:
            request.headers["X-Sim-Fault"] = self.fault
            if self.remaining is not None:
                self.remaining -= 1
        return super().handle_request(request)


@pytest.fixture
def faulty_client(parsec_sim, settings) -> Iterator[Callable[..., tuple[ParsecClient, FaultTransport]]]:
    """Make a client whose requests carry a fault; same timeouts as the parsec_sim client."""
    made: list[ParsecClient] = []

    def make(fault: str, *, times: int | None = None) -> tuple[ParsecClient, FaultTransport]:
        transport = FaultTransport(fault, times=times)
        client = ParsecClient(
            base_url=settings.PARSEC_BASE_URL,
            api_key=settings.PARSEC_API_KEY,
            connect_timeout=settings.PARSEC_CONNECT_TIMEOUT,
            read_timeout=settings.PARSEC_READ_TIMEOUT,
            read_retries=settings.PARSEC_READ_RETRIES,
            transport=transport,
        )
        client._sleep = lambda seconds: None  # retries need not wait in tests
        made.append(client)
        return client, transport

    yield make
    for client in made:
        client.close()


def order_body(
    market_id: str, *, side: str = "buy", price: str = "0.01", size: str = "10", **extra: Any
) -> dict:
    return {
        "market_id": market_id,
        "outcome": "Yes",
        "side": side,
        "price": Decimal(price),
        "size": Decimal(size),
        **extra,
    }


@pytest.fixture
def make_order_body() -> Callable[..., dict]:
    return order_body


wait_for = wait_until  # the parsec tests' name for it


@pytest.fixture
def await_condition() -> Callable[..., Any]:
    return wait_for
