"""The metrics dashboard's rows: each figure now, and its last hour as an SVG chart drawn on the server.

Counters are charted as their increase per minute (a drop between two samples is a restart, read as
counting from zero); gauges as their value at each minute.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitoring.figures import COUNTER_NAMES
from monitoring.models import MetricSample

WIDTH = 360
HEIGHT = 48
MINUTES = 60
COLOUR = "#0072b2"  # the orders dashboard's first colour


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Row:
    name: str
    now: float
    last_minute: float | None  # a counter's increase over the last sampled minute
    peak: float  # the chart's top
    bars: list[Bar]
    points: str  # a gauge's polyline, "x,y x,y ..."
    empty: bool


def samples_last_hour(*, now: datetime) -> list[MetricSample]:
    start = now - timedelta(minutes=MINUTES)
    return list(MetricSample.objects.filter(taken_at__gt=start, taken_at__lte=now).order_by("taken_at"))


def _increases(values: list[float]) -> list[float]:
    return [now - before if now >= before else now for before, now in itertools.pairwise(values)]


def _x(index: int, count: int) -> float:
    return WIDTH * index / max(count, 1)


def counter_row(name: str, now_value: float, samples: list[MetricSample]) -> Row:
    times = [sample.taken_at for sample in samples]
    increases = _increases([sample.figures.get(name, 0) for sample in samples])
    peak = max(increases, default=0)
    slot = WIDTH / MINUTES
    bars = []
    for index, increase in enumerate(increases):
        height = HEIGHT * increase / peak if peak else 0
        minute = times[index + 1]
        column = MINUTES - max(0, int((times[-1] - minute).total_seconds() // 60)) - 1
        tooltip = f"{minute:%H:%M}: +{increase:g}"
        bars.append(Bar(column * slot, HEIGHT - height, max(slot - 1, 1), height, tooltip))
    return Row(name, now_value, increases[-1] if increases else None, peak, bars, "", not increases)


def gauge_row(name: str, now_value: float, samples: list[MetricSample]) -> Row:
    values = [sample.figures.get(name, 0) for sample in samples]
    peak = max(values, default=0)
    points = " ".join(
        f"{_x(index, len(values) - 1):.1f},{HEIGHT - (HEIGHT * value / peak if peak else 0):.1f}"
        for index, value in enumerate(values)
    )
    return Row(name, now_value, None, peak, [], points, len(values) < 2)


def dashboard_rows(*, figures: dict[str, float], now: datetime) -> tuple[list[Row], list[Row]]:
    """(counter rows, gauge rows), in the figures' own order."""
    samples = samples_last_hour(now=now)
    counters = [counter_row(name, figures[name], samples) for name in figures if name in COUNTER_NAMES]
    gauges = [gauge_row(name, value, samples) for name, value in figures.items() if name not in COUNTER_NAMES]
    return counters, gauges
