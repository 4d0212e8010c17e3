"""Admin lists in Chromium at 1440 px: the columns a person needs first are on screen, without scrolling.

Lives with the web tests for their Chromium fixtures. Screenshots go to test-artifacts/ for people.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from factories import (
    make_api_key,
    make_customer,
    make_eth_account,
    make_fee_authorization,
    make_ledger_entry,
    make_partner,
)

from customers.models import Customer
from orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = 1440
# The admin page, and the columns (by Django's `column-<name>` class) that must be on screen there.
KEY_COLUMNS = {
    "/admin/orders/order/": [
        "short_id",
        "created_at",
        "status",
        "fee",
        "exchange",
        "order_summary",
        "filled_amount",
    ],
    "/admin/fees/feeauthorization/": ["id", "created_at", "state", "fee_usdc", "customer_label"],
    "/admin/customers/customer/": ["external_id_label", "status", "parsec_customer_id", "partner"],
    "/admin/customers/partnerapikey/": ["key_prefix", "partner", "key_status"],
}
# Each column's header and every one of its cells: (name, left, right) in CSS pixels, and the right edge
# of what is visible: the viewport, or the list's own scrolling box (Django's `.results`), which clips
# the columns beyond it.
COLUMN_EDGES_SCRIPT = """
(names) => {
  const table = document.getElementById("result_list");
  const clip = Math.min(window.innerWidth, table.closest(".results").getBoundingClientRect().right);
  const cells = names.flatMap((name) => [
    ...table.querySelectorAll(`th.column-${name}, td.field-${name}`),
  ].map((cell) => {
    const box = cell.getBoundingClientRect();
    return [name, box.left, box.right];
  }));
  return { clip, cells };
}
"""


def polymarket_id(label: str) -> str:
    return "0x" + hashlib.sha256(label.encode()).hexdigest()


@pytest.fixture
def busy_admin(db) -> None:
    """Rows as long as real ones: wallet-sized external ids, Polymarket market ids, UUIDs, fee amounts."""
    partner = make_partner(name="Northwind Prediction Partners")
    now = timezone.now()
    for index in range(6):
        account = make_eth_account(f"layout {index}")
        customer = make_customer(
            partner=partner,
            external_id=f"wallet:{account.address}",
            email=f"someone.with.a.long.name.{index}@example-markets.com",
            status=Customer.Status.ACTIVE,
            parsec_customer_id=f"4f1c2a9e-7b3d-4e8a-9c11-5d0e6f7a8b{index:02d}",
        )
        authorization = make_fee_authorization(
            customer=customer, fee_amount=12_345_678 + index, state="requested" if index % 2 else "expired"
        )
        make_api_key(partner=partner)
        Order.objects.create(
            partner=partner,
            customer=customer,
            exchange="polymarket",
            market_id=polymarket_id(f"market {index}"),
            outcome="Yes" if index % 2 else "No",
            side="buy",
            price=Decimal("0.575"),
            size=Decimal("1234.567890"),
            filled=Decimal("0"),
            status=Order.Status.AWAITING_FEE_AUTH if index % 2 else Order.Status.FAILED,
            fee_authorization=authorization,
            created_at=now - timedelta(minutes=index),
            updated_at=now,
        )


@pytest.fixture
def staff_page(chromium, live_server, busy_admin) -> Iterator[Any]:
    user = User.objects.create_superuser("layout", "layout@example.com", "pw")
    client = Client()
    client.force_login(user)
    context = chromium.new_context(
        viewport={"width": WIDTH, "height": 900}, locale="en-GB", timezone_id="UTC"
    )
    context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("path", list(KEY_COLUMNS), ids=lambda path: path.strip("/").split("/")[-1])
def test_the_key_columns_of_each_admin_list_are_on_screen_at_1440_px(
    staff_page, live_server, screenshot, path
):
    staff_page.goto(live_server.url + path)
    staff_page.wait_for_selector("#result_list")
    screenshot(staff_page, f"admin-{path.strip('/').split('/')[-1]}-1440")

    measured = staff_page.evaluate(COLUMN_EDGES_SCRIPT, KEY_COLUMNS[path])

    found = {name for name, _, _ in measured["cells"]}
    assert found == set(KEY_COLUMNS[path])  # every key column is shown, with its header
    clip = measured["clip"]
    off_screen = [(name, round(right)) for name, left, right in measured["cells"] if left < 0 or right > clip]
    assert off_screen == [], f"visible up to {clip} px"


def test_the_dashboard_fee_chart_stacks_the_parts_of_each_day_s_authorized_fees(
    staff_page, live_server, screenshot
):
    from fees.models import FeeAuthorization

    now = timezone.now()
    for index, authorization in enumerate(FeeAuthorization.objects.order_by("id")[:3]):
        make_ledger_entry(
            authorization=authorization, kind="authorized", amount=authorization.fee_amount, created_at=now
        )
        if index == 0:
            make_ledger_entry(
                authorization=authorization,
                kind="distributed_treasury",
                amount=5_000_000,
                created_at=now,
                fill_id="f",
            )

    staff_page.goto(live_server.url + "/admin/orders/order/dashboard/")
    chart = staff_page.locator("section.order-chart", has_text="Fees authorized per day, USDC")
    titles = chart.locator("rect title").all_text_contents()
    screenshot(staff_page, "admin-dashboard-1440")

    day = f"{now:%d %b}"
    assert titles == [
        f"{day} distributed: 5.000000 USDC of 37.037037 USDC",
        f"{day} still held in escrow: 32.037037 USDC of 37.037037 USDC",
    ]
