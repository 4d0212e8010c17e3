"""A change committed in another process is refused by this process's very next order create, although
this process holds the key, the customer and the halts in its read caches (generations.store).

Each change runs in its own `manage.py shell` process against this test's database; with the store the
suite is configured with (Redis when the broker is Redis) and with the database's generation row.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from orders_support import make_trader, order_body
from worker_process import ROOT, database_url_of_this_test

from builder_platform.shared_store import shared_redis
from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

CHANGES = {
    "key revoked": """
from audit.services import Actor
from customers.models import PartnerApiKey
from customers.services.partners import partner_api_key_revoke
from django.utils import timezone
partner_api_key_revoke(api_key=PartnerApiKey.objects.get(pk={key_id}), actor=Actor.system("test"),
                       now=timezone.now())
""",
    "customer disabled": """
from customers.models import Customer
from customers.services.accounts import customer_update
from django.utils import timezone
customer_update(customer=Customer.objects.get(pk="{customer_id}"), status="disabled", now=timezone.now())
""",
    "partner suspended": """
from audit.services import Actor
from customers.models import Partner
from customers.services.partners import partner_status_set
from django.utils import timezone
partner_status_set(partner=Partner.objects.get(pk={partner_id}), status="suspended", reason="Test.",
                   actor=Actor.system("test"), now=timezone.now())
""",
    "customer halted": """
from audit.services import Actor
from customers.models import Customer
from django.utils import timezone
from halts.services import trading_halt_set
trading_halt_set(scope="customer", customer=Customer.objects.get(pk="{customer_id}"),
                 reason="Halted from another process.", actor=Actor.system("test"), now=timezone.now())
""",
    # A queryset update, as an admin action or a shell would write it: no model signal sees it.
    "signer replaced by a queryset update": """
from django.utils import timezone
from customers.models import Wallet
Wallet.objects.filter(customer_id="{customer_id}", role="signer").update(replaced_at=timezone.now())
""",
}
REFUSALS = {
    "key revoked": (401, None),
    "customer disabled": (409, "customer_disabled"),
    "partner suspended": (409, "partner_suspended"),
    "customer halted": (409, "customer_disabled"),
    "signer replaced by a queryset update": (409, "customer_not_ready"),
}


@pytest.fixture(params=["configured", "database"])
def store(request, settings) -> str:
    """The configured shared store (Redis when the suite has one), or none: the database's row."""
    if request.param == "database":
        settings.SHARED_STORE_URL = ""
    return request.param


def _in_another_process(code: str, *, store: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url_of_this_test()}
    if store == "database":
        env["SHARED_STORE_URL"] = ""
    finished = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr.decode()[-2000:]


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_in_another_process_refuses_the_next_create_here(
    tradable_exchanges, enqueued, store, change
):
    if store == "configured" and shared_redis() is None:
        store = "database"  # the suite runs without Redis: both cases are the database's
    trader = make_trader(name="Acme Trading")
    assert trader.post_order(order_body()).status_code == 201  # reads the key, customer and halts

    with CaptureQueriesContext(connection) as warm:
        assert trader.post_order(order_body()).status_code == 201
    read_tables = " ".join(
        query["sql"] for query in warm.captured_queries if query["sql"].startswith("SELECT")
    )
    # This process serves from its caches now: neither the key nor the customer nor a halt is read.
    for table in ("customers_partnerapikey", "customers_customer", "halts_tradinghalt"):
        assert table not in read_tables, read_tables

    api_key = trader.partner.api_keys.get()
    _in_another_process(
        CHANGES[change].format(
            key_id=api_key.pk, customer_id=trader.customer.pk, partner_id=trader.partner.pk
        ),
        store=store,
    )

    refused = trader.post_order(order_body())
    status, code = REFUSALS[change]
    assert refused.status_code == status, refused.content
    if code is not None:
        assert refused.json()["code"] == code
    assert Order.objects.count() == 2


ENDPOINT_CREATE = """
from django.utils import timezone
from webhooks.models import WebhookEndpoint
WebhookEndpoint.objects.create(partner_id={partner_id}, url="https://hooks.example.com/orders",
                               events=["order.created"], secret="s" * 32, created_at=timezone.now(),
                               updated_at=timezone.now())
"""


def test_an_endpoint_created_in_another_process_gets_the_next_order_event_here(
    tradable_exchanges, enqueued, store
):
    from webhooks.models import WebhookDelivery

    if store == "configured" and shared_redis() is None:
        store = "database"
    trader = make_trader(name="Acme Trading")
    for _ in range(2):  # the second create finds the partner's (no) endpoints in the cache
        assert trader.post_order(order_body()).status_code == 201
    assert not WebhookDelivery.objects.exists()

    _in_another_process(ENDPOINT_CREATE.format(partner_id=trader.partner.pk), store=store)

    created = trader.post_order(order_body())
    assert created.status_code == 201
    delivery = WebhookDelivery.objects.select_related("event").get()
    assert delivery.event.object_id == created.json()["id"]
