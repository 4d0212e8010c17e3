"""A client generated from /api/schema/ by an independent generator, with no hand edits, trades.

openapi-python-client builds a package from the schema the live server serves; the test imports it and,
through it alone, onboards a customer (create, wallet challenge, signed link), places orders and pages
through them, against the simulator and a real Celery worker.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from factories import make_api_key, make_eth_account, make_partner
from orders_support import KALSHI_MARKET
from polling import wait_until

PACKAGE = "generated_partner_client"


@pytest.fixture
def generated_client(live_server, tmp_path):
    """The generated package, imported from a temporary folder (and forgotten afterwards)."""
    schema_path = tmp_path / "schema.json"
    schema_path.write_bytes(httpx.get(f"{live_server.url}/api/schema/?format=json").content)
    config = tmp_path / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    generator = Path(sys.executable).with_name("openapi-python-client")
    result = subprocess.run(  # noqa: S603 - our own virtualenv's generator, our own arguments
        [
            str(generator),
            "generate",
            "--path",
            str(schema_path),
            "--meta",
            "none",
            "--config",
            str(config),
            "--output-path",
            str(tmp_path / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The generator says when it had to leave a piece of the schema out: nothing may be missing.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def test_a_generated_client_onboards_a_customer_places_orders_and_pages_through_them(
    generated_client, live_server, parsec_sim, celery_worker
):
    api = importlib.import_module(f"{PACKAGE}.api")
    models = importlib.import_module(f"{PACKAGE}.models")
    customers = importlib.import_module(f"{PACKAGE}.api.customers")
    orders = importlib.import_module(f"{PACKAGE}.api.orders")
    assert api
    for module in (
        "customers_create",
        "customers_retrieve",
        "customers_wallet_challenges_create",
        "customers_wallets_create",
    ):
        importlib.import_module(f"{customers.__name__}.{module}")
    for module in ("orders_create", "orders_list"):
        importlib.import_module(f"{orders.__name__}.{module}")

    _, raw_key = make_api_key(partner=make_partner(name="Generated Client Partner"))
    client = generated_client.AuthenticatedClient(
        base_url=live_server.url, token=raw_key, prefix="", auth_header_name="X-API-Key"
    )
    signer = make_eth_account("generated client signer")

    created = customers.customers_create.sync(
        client=client,
        body=models.CustomerCreateRequest(external_id="generated-42", email="gen42@example.com"),
    )
    assert isinstance(created, models.Customer), created
    assert created.status == models.CustomerStatus.PROVISIONING

    def read():
        return customers.customers_retrieve.sync(client=client, customer_id=str(created.id))

    wait_until(lambda: read().parsec_customer_id, timeout=30)
    challenge = customers.customers_wallet_challenges_create.sync(
        client=client, customer_id=str(created.id), body=models.WalletChallengeRequest(address=signer.address)
    )
    assert isinstance(challenge, models.WalletChallenge), challenge
    signed = Account.sign_message(encode_defunct(text=challenge.message), signer.key)
    wallet = customers.customers_wallets_create.sync(
        client=client,
        customer_id=str(created.id),
        body=models.WalletLinkRequest(
            address=signer.address, message=challenge.message, signature="0x" + bytes(signed.signature).hex()
        ),
    )
    assert isinstance(wallet, models.Wallet), wallet
    assert wallet.role == models.WalletRole.SIGNER
    wait_until(lambda: read().status == models.CustomerStatus.ACTIVE, timeout=30)

    placed = []
    for price in (0.01, 0.02, 0.03):
        order = orders.orders_create.sync(
            client=client,
            exchange=models.OrdersCreateExchange.KALSHI,
            x_builder_customer_id=str(created.id),
            idempotency_key=uuid.uuid4().hex,
            body=models.OrderCreateRequest(
                market_id=KALSHI_MARKET,
                outcome="Yes",
                side=models.OrderSide.BUY,
                price=price,
                size=10,
                params=models.OrderParams(order_type=models.OrderType.GTC),
            ),
        )
        assert isinstance(order, models.Order), order
        assert order.price == price
        assert order.fee is None
        placed.append(str(order.id))

    seen, cursor = [], generated_client.types.UNSET
    while True:
        page = orders.orders_list.sync(client=client, limit=2, cursor=cursor)
        assert isinstance(page, models.PaginatedOrderList), page
        seen += [str(order.id) for order in page.results]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == placed[::-1]

    refused = orders.orders_list.sync(client=client, limit=2, cursor="not-a-cursor")
    assert isinstance(refused, models.Error)
    assert refused.code == "validation_error"
