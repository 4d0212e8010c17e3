"""The dashboard fee chart: each day's authorized fees as the whole, in parts that add up, in USDC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from factories import make_customer, make_fee_authorization, make_ledger_entry

from orders import dashboard

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
DAY_ONE = NOW - timedelta(days=1)


@pytest.fixture
def ledger():
    """Day one: 0.1 USDC authorized, distributed (0.03 + 0.01) and refunded (0.06) on day two.
    Day two: 0.05 USDC authorized and still held in escrow."""
    customer = make_customer()
    first = make_fee_authorization(customer=customer, fee_amount=100_000, created_at=DAY_ONE)
    make_ledger_entry(authorization=first, kind="authorized", amount=100_000, created_at=DAY_ONE)
    make_ledger_entry(
        authorization=first, kind="distributed_affiliate", amount=30_000, created_at=NOW, fill_id="f1"
    )
    make_ledger_entry(
        authorization=first, kind="distributed_treasury", amount=10_000, created_at=NOW, fill_id="f1"
    )
    make_ledger_entry(authorization=first, kind="partner_share", amount=3_000, created_at=NOW, fill_id="f1")
    make_ledger_entry(authorization=first, kind="refunded", amount=60_000, created_at=NOW)
    second = make_fee_authorization(customer=customer, fee_amount=50_000, created_at=NOW)
    make_ledger_entry(authorization=second, kind="authorized", amount=50_000, created_at=NOW)


def test_each_day_is_its_authorized_fees_split_into_parts_that_add_up(ledger):
    table = dashboard.fees_per_day(now=NOW)

    assert table[DAY_ONE.date()] == {"distributed": 40_000, "refunded": 60_000, "still held in escrow": 0}
    assert table[NOW.date()] == {"distributed": 0, "refunded": 0, "still held in escrow": 50_000}
    assert len(table) == 14
    assert all(sum(parts.values()) == 0 for day, parts in table.items() if day < DAY_ONE.date())


def test_the_chart_is_in_usdc_and_its_tallest_column_is_the_largest_authorized_day(ledger):
    [chart] = [chart for chart in dashboard.dashboard_charts(now=NOW) if chart.title.startswith("Fees")]

    titles = [bar.title for bar in chart.bars]
    assert titles == [
        "09 Mar distributed: 0.040000 USDC of 0.100000 USDC",
        "09 Mar refunded: 0.060000 USDC of 0.100000 USDC",
        "10 Mar still held in escrow: 0.050000 USDC of 0.050000 USDC",
    ]
    # Stacked parts of one day reach exactly the height of the largest day's authorized amount.
    first_day = [bar for bar in chart.bars if bar.title.startswith("09 Mar")]
    assert sum(bar.height for bar in first_day) == pytest.approx(dashboard.PLOT_HEIGHT)
    assert next(text.text for text in chart.labels if text.anchor == "end") == "0.1"
    assert [name for _, name in chart.legend] == ["distributed", "refunded", "still held in escrow"]


def test_the_dashboard_page_shows_the_fee_chart_in_usdc(client, ledger, settings):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))

    content = client.get("/admin/orders/order/dashboard/").content.decode()

    assert "Fees authorized per day, USDC" in content
    assert "base units" not in content
