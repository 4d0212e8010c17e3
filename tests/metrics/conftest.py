"""The metrics tests' fixtures: the order tests' traders, and a scrape of /metrics read into numbers."""

import sys
from pathlib import Path

# The order pipe is driven as the order tests drive it (a trader at the simulator, a real worker).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "orders"))

from orders_support import *  # noqa: F403 - registers the order fixtures with pytest
