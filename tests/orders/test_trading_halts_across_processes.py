"""A halt set in another process refuses this process's very next order create (no cache to wait out)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from orders_support import make_trader, order_body
from worker_process import ROOT, database_url_of_this_test

from orders.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

SET_HALT = """
from audit.services import Actor
from django.utils import timezone
from halts.services import trading_halt_set, trading_halt_lift
from halts.models import TradingHalt
if "{action}" == "set":
    actor = Actor.system("test")
    trading_halt_set(scope="global", reason="Set from another process.", actor=actor, now=timezone.now())
else:
    for halt in TradingHalt.objects.filter(lifted_at__isnull=True):
        trading_halt_lift(halt=halt, actor=Actor.system("test"), now=timezone.now())
"""


def _in_another_process(action: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url_of_this_test()}
    subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "shell", "-c", SET_HALT.format(action=action)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_a_global_halt_set_in_another_process_refuses_the_next_create_here(tradable_exchanges, enqueued):
    trader = make_trader(name="Acme Trading")
    assert trader.post_order(order_body()).status_code == 201  # this process has served creates already

    _in_another_process("set")
    refused = trader.post_order(order_body())
    assert (refused.status_code, refused.json()["code"]) == (503, "trading_halted")
    assert "Set from another process." in refused.json()["error"]

    _in_another_process("lift")
    assert trader.post_order(order_body()).status_code == 201
    assert Order.objects.count() == 2
