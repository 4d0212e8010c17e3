"""Fixtures of the portfolio tests: the order tests' traders, provisioned at the simulator."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))

from orders_support import *  # noqa: F403 - registers the fixtures with pytest
