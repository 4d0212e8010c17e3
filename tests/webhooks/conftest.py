"""The webhook tests' fixtures: a verifying receiver, and the order tests' traders for the journeys."""

import sys
from pathlib import Path

import pytest

# The order journeys reuse the order tests' helpers and fixtures (a trader at the simulator, ...).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "orders"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "api"))  # schema_support

from orders_support import *  # noqa: F403 - registers the order fixtures with pytest
from webhooks_support import Receiver


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()
