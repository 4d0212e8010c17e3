"""The admin dashboard's figures and their charts, drawn on the server as plain SVG shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate

from fees import selectors
from fees.money import usdc_text
from orders.models import Order

CHART_WIDTH = 640
BAR_HEIGHT = 18
PLOT_HEIGHT = 160
LABEL_WIDTH = 130
# Colour per series, chosen to stay readable for common colour-vision deficiencies.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999")


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str  # shown as the SVG <title> tooltip and read by screen readers


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "start"


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    bars: list[Bar]
    labels: list[Label]
    legend: list[tuple[str, str]]  # (colour, name)
    empty: bool


def orders_by_status() -> dict[str, int]:
    counts = dict(Order.objects.values_list("status").annotate(total=Count("id")).order_by())
    return {status: counts.get(status, 0) for status in Order.Status.values}


def _days(now: datetime, days: int) -> list[date]:
    today = now.date()
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def orders_per_day_per_exchange(*, now: datetime, days: int = 14) -> dict[date, dict[str, int]]:
    start = now - timedelta(days=days)
    rows = (
        Order.objects.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values_list("day", "exchange")
        .annotate(total=Count("id"))
        .order_by()
    )
    table: dict[date, dict[str, int]] = {day: {} for day in _days(now, days)}
    for day, exchange, total in rows:
        if day in table:
            table[day][exchange] = total
    return table


# The parts of a day's authorized fees, bottom to top; the column's height is the authorized whole.
FEE_SERIES = (("distributed", "distributed"), ("refunded", "refunded"), ("held", "still held in escrow"))


def fees_per_day(*, now: datetime, days: int = 14) -> dict[date, dict[str, int]]:
    """USDC base units authorized per day, split into what was distributed, refunded and is still held."""
    end = now.date()
    rows = selectors.fees_by_authorization_day(start=end - timedelta(days=days - 1), end=end)
    return {row["day"]: {name: row[key] for key, name in FEE_SERIES} for row in rows}


def usdc_label(base_units: int) -> str:
    return f"{usdc_text(base_units)} USDC"


def usdc_axis_label(base_units: int) -> str:
    """Exact USDC without trailing zeros ("0.25"), short enough for the axis."""
    return usdc_text(base_units).rstrip("0").rstrip(".")


def horizontal_bar_chart(title: str, values: dict[str, int]) -> Chart:
    """One bar per key, longest for the largest value, the count at its end."""
    peak = max(values.values(), default=0)
    plot_width = CHART_WIDTH - LABEL_WIDTH - 60
    bars, labels = [], []
    for row, (name, value) in enumerate(values.items()):
        y = row * (BAR_HEIGHT + 6) + 4
        width = plot_width * value / peak if peak else 0
        bars.append(Bar(LABEL_WIDTH, y, width, BAR_HEIGHT, PALETTE[0], f"{name}: {value}"))
        labels.append(Label(LABEL_WIDTH - 6, y + BAR_HEIGHT - 5, name.replace("_", " "), "end"))
        labels.append(Label(LABEL_WIDTH + width + 6, y + BAR_HEIGHT - 5, str(value)))
    height = len(values) * (BAR_HEIGHT + 6) + 8
    return Chart(title, CHART_WIDTH, height, bars, labels, [], peak == 0)


def stacked_column_chart(
    title: str,
    table: dict[date, dict[str, int]],
    *,
    series: Sequence[str] | None = None,
    text: Callable[[int], str] = str,
    axis_text: Callable[[int], str] | None = None,
) -> Chart:
    """One column per day, stacked by series; the day under every other column, the peak on the axis.

    `series` fixes the stacking order (bottom first), `text` writes a value (e.g. base units as USDC),
    `axis_text` the peak on the narrow axis (the unit is then in the title).
    """
    if series is None:
        series = sorted({name for values in table.values() for name in values})
    colours = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(series)}
    peak = max((sum(values.values()) for values in table.values()), default=0)
    peak_text = (axis_text or text)(peak)
    # The axis is as wide as its longest label (~7 px a character at 11 px): "37.037037" is not cut.
    left = max(50, 7 * len(peak_text) + 8)
    slot = (CHART_WIDTH - left - 10) / max(len(table), 1)
    bars, labels = [], []
    for column, (day, values) in enumerate(table.items()):
        x = left + column * slot + 2
        base = PLOT_HEIGHT
        for name in series:
            value = values.get(name, 0)
            if not value or not peak:
                continue
            height = PLOT_HEIGHT * value / peak
            base -= height
            # Each part names the column's whole too: the tooltip and screen readers show what adds up.
            tooltip = f"{day:%d %b} {name}: {text(value)} of {text(sum(values.values()))}"
            bars.append(Bar(x, base + 10, slot - 4, height, colours[name], tooltip))
        if column % 2 == 0:
            labels.append(Label(x + (slot - 4) / 2, PLOT_HEIGHT + 26, f"{day:%d %b}", "middle"))
    labels.append(Label(left - 6, 20, peak_text, "end"))
    labels.append(Label(left - 6, PLOT_HEIGHT + 10, "0", "end"))
    legend = [(colours[name], name) for name in series]
    return Chart(title, CHART_WIDTH, PLOT_HEIGHT + 36, bars, labels, legend, peak == 0)


def dashboard_charts(*, now: datetime) -> list[Chart]:
    return [
        horizontal_bar_chart("Orders by status", orders_by_status()),
        stacked_column_chart(
            "Orders per day, by exchange (last 14 days)", orders_per_day_per_exchange(now=now)
        ),
        stacked_column_chart(
            "Fees authorized per day, USDC (last 14 days): each column is the day's authorized fees, "
            "split into what was distributed, refunded and is still held",
            fees_per_day(now=now),
            series=[name for _, name in FEE_SERIES],
            text=usdc_label,
            axis_text=usdc_axis_label,
        ),
    ]
