"""Helpers and fixtures for the order tests: trading customers, a scripted Parsec, fee signatures, polling.

A uniquely named module (not conftest) so test modules can import its helpers by name: every conftest
is the module `conftest`, and which one that name means depends on what pytest imported last.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from eth_account import Account
from eth_account.signers.local import LocalAccount
from factories import make_api_key, make_customer, make_eth_account, make_partner, make_wallet
from polling import wait_until  # noqa: F401  (re-exported to the orders tests)
from rest_framework.test import APIClient

from customers.models import Customer, Partner, Wallet
from parsec.client import Fill as ParsecFill
from parsec.client import Order as ParsecOrder
from parsec.client import ParsecInDoubt, ParsecRejected, ParsecUnavailable

KALSHI_MARKET = "KXFEDDECISION-26JAN-C25"
# Safe to name before the simulator is up: the catalogue derives it from the question text.
POLYMARKET_QUESTION = "Will the Fed cut rates at its next meeting?"


def polymarket_market() -> str:
    from parsec.sim.catalogue import MARKET_SEEDS

    return next(seed.market_id for seed in MARKET_SEEDS if seed.question == POLYMARKET_QUESTION)


def order_body(market_id: str = KALSHI_MARKET, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "market_id": market_id,
        "outcome": "Yes",
        "side": "buy",
        "price": Decimal("0.01"),
        "size": Decimal("10"),
    }
    body.update(overrides)
    return body


@dataclass
class Trader:
    """A partner, its API client and one active customer with a signer and a payer."""

    partner: Partner
    client: APIClient
    customer: Customer
    signer: LocalAccount

    def post_order(self, body: dict, *, exchange: str = "kalshi", key: str | None = None, **headers: str):
        from parsec.client import encode_json

        return self.client.post(
            f"/api/v1/orders?exchange={exchange}",
            data=encode_json(body),
            content_type="application/json",
            HTTP_X_BUILDER_CUSTOMER_ID=headers.pop("customer_id", str(self.customer.id)),
            HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
            **headers,
        )

    def sign(self, typed_data: dict) -> str:
        signed = Account.sign_typed_data(self.signer.key, full_message=typed_data)
        return "0x" + bytes(signed.signature).hex()


def make_trader(*, parsec_client=None, name: str | None = None, **partner_fields: Any) -> Trader:
    """An active customer; provisioned at the simulator when a client for it is given."""
    partner = make_partner(name=name, **partner_fields)
    _, raw_key = make_api_key(partner=partner)
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=raw_key)
    signer = make_eth_account()
    customer = make_customer(partner=partner)
    if parsec_client is not None:
        user = parsec_client.create_builder_user(external_id=str(customer.id))
        onboarding = parsec_client.onboard(
            customer_id=user.customer_id, exchange="polymarket", eoa_address=signer.address
        )
        parsec_id, payer = user.customer_id, onboarding.safe_address
    else:
        parsec_id, payer = f"sim-{uuid.uuid4()}", make_eth_account().address
    Customer.objects.filter(pk=customer.pk).update(
        parsec_customer_id=parsec_id, status=Customer.Status.ACTIVE
    )
    customer.refresh_from_db()
    make_wallet(customer=customer, address=signer.address, role=Wallet.Role.SIGNER)
    make_wallet(customer=customer, address=payer, role=Wallet.Role.PAYER)
    return Trader(partner=partner, client=api, customer=customer, signer=signer)


def cache_catalogue_markets() -> None:
    """Every simulator market, as the one-market lookup of intake would read it, put in the cache."""
    from orders.exchanges import _market_json, market_cache_put
    from parsec.client import _parse_market
    from parsec.sim.catalogue import MARKET_SEEDS
    from parsec.sim.models import SimMarket
    from parsec.sim.views import market_json

    now = timezone.now()
    for seed in MARKET_SEEDS:
        sim_market = SimMarket(
            exchange=seed.exchange,
            market_id=seed.market_id,
            question=seed.question,
            outcomes=list(seed.outcomes),
            tick_size=seed.tick_size,
            min_order_size=seed.min_order_size,
        )
        market = _market_json(_parse_market(market_json(sim_market, now=now)))
        market_cache_put(exchange=seed.exchange, market_id=seed.market_id, market=market)


@pytest.fixture
def tradable_exchanges(settings) -> None:
    """Parsec's /exchanges and the simulator's markets as the simulator answers them, already in the
    cache: no HTTP needed."""
    from orders.exchanges import _EXCHANGES_CACHE_KEY
    from parsec.contract import FEE_ESCROW_EXCHANGES, ORDER_TYPE_SUPPORT, ORDER_TYPES
    from parsec.sim.catalogue import exchanges_json

    # Fresh for the whole test: a long test (the lifecycle machine on a loaded machine) must not find
    # them stale and ask Parsec, which a scripted Parsec does not answer for markets.
    settings.ORDER_MARKETS_CACHE_SECONDS = 3600
    cache_catalogue_markets()

    cache.set(
        _EXCHANGES_CACHE_KEY,
        [
            {
                **item,
                "order_types": [kind for kind in ORDER_TYPES if item["id"] in ORDER_TYPE_SUPPORT[kind]],
                "fee_escrow": item["id"] in FEE_ESCROW_EXCHANGES,
            }
            for item in exchanges_json()
        ],
        3600,
    )
    yield
    cache.clear()


@pytest.fixture
def trader(db, tradable_exchanges) -> Trader:
    return make_trader(name="Acme Trading")


@pytest.fixture
def sim_trader(parsec_sim, tradable_exchanges) -> Trader:
    return make_trader(parsec_client=parsec_sim, name="Acme Trading")


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[str, tuple]]:
    """Order tasks the services ask for, recorded (as task name, args) instead of sent."""
    from builder_platform import enqueue

    sent: list[tuple[str, tuple]] = []
    send_for_real = enqueue.enqueue_on_commit

    def record(task_name: str, *args: Any, **options: Any) -> None:
        if not task_name.startswith("orders."):
            send_for_real(task_name, *args, **options)  # other apps' tasks are not under test here
            return
        sent.append((task_name, args))

    monkeypatch.setattr(enqueue, "enqueue_on_commit", record)
    return sent


# --- A scripted Parsec for unit tests of submission and reconciliation -------------------------------


@dataclass
class ScriptedParsec:
    """Stands in for ParsecClient: answers from `created` / `orders` / `fills`, raises what is queued."""

    create_outcomes: list[Any] = field(default_factory=list)  # an exception to raise, or None to accept
    cancel_outcomes: list[Any] = field(default_factory=list)
    orders: dict[str, list[ParsecOrder]] = field(default_factory=dict)  # by Parsec customer id
    fills: dict[str, list[ParsecFill]] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    fill_status: str = "open"

    def _record(self, name: str, **kwargs: Any) -> None:
        self.calls.append((name, kwargs))

    def get_market(self, *, exchange: str, market_id: str):
        """The simulator's catalogue market, for a market cache that expired during a long test."""
        from parsec.client import _parse_market
        from parsec.sim.catalogue import MARKET_SEEDS
        from parsec.sim.models import SimMarket
        from parsec.sim.views import market_json

        for seed in MARKET_SEEDS:
            if (seed.exchange, seed.market_id) == (exchange, market_id):
                sim_market = SimMarket(
                    exchange=seed.exchange,
                    market_id=seed.market_id,
                    question=seed.question,
                    outcomes=list(seed.outcomes),
                    tick_size=seed.tick_size,
                    min_order_size=seed.min_order_size,
                )
                return _parse_market(market_json(sim_market, now=timezone.now(), volume=Decimal(0)))
        return None

    def create_order(self, *, exchange: str, customer_id: str, body: dict) -> ParsecOrder:
        self._record("create_order", exchange=exchange, customer_id=customer_id, body=body)
        outcome = self.create_outcomes.pop(0) if self.create_outcomes else None
        order = ParsecOrder(
            id="ord_" + uuid.uuid4().hex,
            market_id=body["market_id"],
            outcome=body["outcome"],
            side=body["side"],
            price=Decimal(body["price"]),
            size=Decimal(body["size"]),
            filled=Decimal(0),
            status=self.fill_status,
            created_at=timezone.now(),
            updated_at=None,
        )
        if isinstance(outcome, ParsecInDoubt) and getattr(outcome, "applied", False):
            self.orders.setdefault(customer_id, []).append(order)
        if isinstance(outcome, BaseException):
            raise outcome
        self.orders.setdefault(customer_id, []).append(order)
        return order

    def cancel_order(self, *, exchange: str, customer_id: str, order_id: str) -> ParsecOrder:
        self._record("cancel_order", exchange=exchange, customer_id=customer_id, order_id=order_id)
        outcome = self.cancel_outcomes.pop(0) if self.cancel_outcomes else None
        if isinstance(outcome, BaseException):
            raise outcome
        for index, order in enumerate(self.orders.get(customer_id, [])):
            if order.id == order_id:
                cancelled = ParsecOrder(**{**order.__dict__, "status": "cancelled"})
                self.orders[customer_id][index] = cancelled
                return cancelled
        raise ParsecRejected(status=404, code="order_not_found", message="order not found")

    def list_orders(self, *, exchange: str, customer_id: str, **kwargs: Any) -> list[ParsecOrder]:
        self._record("list_orders", exchange=exchange, customer_id=customer_id, **kwargs)
        return list(self.orders.get(customer_id, []))

    def list_fills(self, *, exchange: str, customer_id: str, **kwargs: Any) -> list[ParsecFill]:
        self._record("list_fills", exchange=exchange, customer_id=customer_id, **kwargs)
        return list(self.fills.get(customer_id, []))

    def set_order(self, customer_id: str, order_id: str, **changes: Any) -> ParsecOrder:
        for index, order in enumerate(self.orders[customer_id]):
            if order.id == order_id:
                self.orders[customer_id][index] = ParsecOrder(**{**order.__dict__, **changes})
                return self.orders[customer_id][index]
        raise KeyError(order_id)

    def add_fill(
        self, customer_id: str, order: ParsecOrder, size: str, *, fill_id: str | None = None
    ) -> ParsecFill:
        fill = ParsecFill(
            fill_id=fill_id or "fill_" + uuid.uuid4().hex,
            order_id=order.id,
            market_id=order.market_id,
            outcome=order.outcome,
            side=order.side,
            price=order.price,
            size=Decimal(size),
            is_taker=False,
            fee=Decimal(0),
            created_at=datetime.now(tz=UTC),
        )
        self.fills.setdefault(customer_id, []).insert(0, fill)
        return fill

    def count(self, name: str) -> int:
        return sum(1 for call, _ in self.calls if call == name)


def unavailable(retry_after: float | None = None) -> ParsecUnavailable:
    return ParsecUnavailable(status=503, code="service_unavailable", message="down", retry_after=retry_after)


def in_doubt(*, applied: bool = False) -> ParsecInDoubt:
    """A lost answer; with applied=True the scripted Parsec keeps the order, as a real one might."""
    error = ParsecInDoubt("no answer")
    error.applied = applied
    return error


def place(trader: Trader, *, exchange: str = "kalshi", now: datetime | None = None, **overrides: Any):
    """An order made by the intake service (queued for a fee-less exchange), without HTTP."""
    from orders.services import intake

    market = overrides.pop("market_id", KALSHI_MARKET if exchange == "kalshi" else polymarket_market())
    return intake.order_create(
        partner=trader.partner,
        customer_id=str(trader.customer.id),
        exchange=exchange,
        body=order_body(market, **overrides),
        now=now or timezone.now(),
    )


@pytest.fixture
def scripted_parsec(monkeypatch) -> ScriptedParsec:
    from parsec import conf

    parsec = ScriptedParsec()
    monkeypatch.setattr(conf, "get_client", lambda: parsec)
    return parsec


def ledger_totals(fee_authorization) -> dict[str, int]:
    """Sum of the fee ledger per entry kind for one authorization (USDC base units)."""
    from collections import defaultdict

    from fees.models import FeeLedgerEntry

    totals: dict[str, int] = defaultdict(int)
    for kind, amount in FeeLedgerEntry.objects.filter(fee_authorization=fee_authorization).values_list(
        "kind", "amount"
    ):
        totals[kind] += int(amount)
    return totals
