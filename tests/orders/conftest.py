"""The order tests' fixtures, defined in orders_support (which test modules import helpers from)."""

from orders_support import *  # noqa: F403 - registers the fixtures with pytest
