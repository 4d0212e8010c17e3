"""Fixtures of the partner-contract tests: the order tests' traders and the schema as served."""

from __future__ import annotations

import sys
from pathlib import Path

# The order tests' helpers (traders provisioned at the simulator, order bodies) are this folder's too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "orders"))

from orders_support import *  # noqa: F403 - registers the fixtures with pytest
