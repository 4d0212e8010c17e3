"""The simulator's admin pages show its state and allow no edits."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from parsec.contract import validate_create_order
from parsec.sim.models import SimBuilderUser, SimFill, SimMarket, SimOrder
from parsec.sim.services import (
    sim_builder_ensure,
    sim_builder_user_create,
    sim_markets_ensure,
    sim_order_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def filled_order() -> SimOrder:
    builder = sim_builder_ensure(api_key="pk_sim_admin_builder_key", name="Admin view")
    customer, _, _ = sim_builder_user_create(builder=builder, external_id="admin-viewed")
    sim_markets_ensure()
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    body = {"market_id": "KXGDP-26Q2-3", "outcome": "Yes", "side": "buy", "price": Decimal("0.99"), "size": 5}
    request = validate_create_order("kalshi", body, now=int(now.timestamp()))
    return sim_order_create(customer=customer, order_request=request, now=now)


@pytest.mark.parametrize("model", [SimBuilderUser, SimMarket, SimOrder, SimFill])
def test_each_simulator_list_page_renders_and_offers_no_add(admin_client, filled_order, model):
    opts = model._meta
    listing = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    adding = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))

    assert listing.status_code == 200
    assert adding.status_code == 403


def test_an_order_page_shows_its_fills_read_only(admin_client, filled_order):
    # Quoted as the admin quotes ids in its own links: an id holding "_2F" or "_3A" would otherwise be
    # read back as "/" or ":" and miss (a 302 to the index).
    change_url = reverse("admin:sim_simorder_change", args=[quote(filled_order.id)])
    page = admin_client.get(change_url)
    refused = admin_client.post(change_url, {"status": "open"})

    assert page.status_code == 200
    assert filled_order.fills.get().fill_id in page.content.decode()
    assert refused.status_code == 403
    filled_order.refresh_from_db()
    assert filled_order.status == "filled"


def test_no_key_hash_is_shown(admin_client, filled_order):
    page = admin_client.get(reverse("admin:sim_simbuilderuser_change", args=[filled_order.customer_id]))

    assert page.status_code == 200
    assert filled_order.customer.key_hash not in page.content.decode()


def test_the_builder_user_list_shows_each_balance_after_its_fills(admin_client, filled_order, settings):
    settings.PARSEC_SIM_STARTING_BALANCE_USDC = 100
    [fill] = SimFill.objects.filter(order=filled_order)
    spent = fill.price * fill.size + fill.fee

    listing = admin_client.get(reverse("admin:sim_simbuilderuser_changelist"))

    assert f"{Decimal(100) - spent:.6f}" in listing.content.decode()
