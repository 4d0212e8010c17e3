"""The webhook admin's chart: delivery attempts per hour over the last day, stacked by outcome."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from orders.dashboard import CHART_WIDTH, PALETTE, PLOT_HEIGHT, Bar, Chart, Label
from webhooks.models import WebhookAttempt

OUTCOMES = ("delivered", "HTTP error", "network error or refused")


def attempts_per_hour(*, now: datetime, hours: int = 24) -> dict[datetime, dict[str, int]]:
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    table = {start + timedelta(hours=offset): dict.fromkeys(OUTCOMES, 0) for offset in range(hours)}
    rows = (
        WebhookAttempt.objects.filter(created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(
            delivered=Count("id", filter=Q(success=True)),
            http_error=Count("id", filter=Q(success=False, status_code__isnull=False)),
            network=Count("id", filter=Q(success=False, status_code__isnull=True)),
        )
        .order_by()
    )
    for row in rows:
        if row["hour"] in table:
            table[row["hour"]] = dict(
                zip(OUTCOMES, (row["delivered"], row["http_error"], row["network"]), strict=True)
            )
    return table


def attempts_chart(*, now: datetime, hours: int = 24) -> Chart:
    table = attempts_per_hour(now=now, hours=hours)
    colours = {name: PALETTE[index] for index, name in enumerate(OUTCOMES)}
    peak = max((sum(values.values()) for values in table.values()), default=0)
    left = max(50, 7 * len(str(peak)) + 8)
    slot = (CHART_WIDTH - left - 10) / len(table)
    bars, labels = [], []
    for column, (hour, values) in enumerate(table.items()):
        x = left + column * slot + 2
        base = PLOT_HEIGHT
        for name in OUTCOMES:
            value = values[name]
            if not value or not peak:
                continue
            height = PLOT_HEIGHT * value / peak
            base -= height
            tooltip = f"{hour:%d %b %H:00} UTC {name}: {value} of {sum(values.values())}"
            bars.append(Bar(x, base + 10, slot - 4, height, colours[name], tooltip))
        if column % 4 == 0:
            labels.append(Label(x + (slot - 4) / 2, PLOT_HEIGHT + 26, f"{hour:%H:00}", "middle"))
    labels.append(Label(left - 6, 20, str(peak), "end"))
    labels.append(Label(left - 6, PLOT_HEIGHT + 10, "0", "end"))
    return Chart(
        f"Delivery attempts per hour by outcome (last {hours} hours, UTC)",
        CHART_WIDTH,
        PLOT_HEIGHT + 36,
        bars,
        labels,
        [(colours[name], name) for name in OUTCOMES],
        peak == 0,
    )
