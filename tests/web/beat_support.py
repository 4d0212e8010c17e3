"""A stand-in for celery beat in browser tests: reconciles every pair on a fixed period in a thread.

The reconcile task's own code runs in this thread instead of going through the broker: the kombu
filesystem transport of the SQLite runs writes a message file in two steps, and a consumer that reads it
between them stops with a JSON error, so extra broker traffic only adds flakiness.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def reconciling_every(seconds: float) -> Iterator[None]:
    from django.db import connection

    from orders.services.reconcile_schedule import reconcile_pairs
    from orders.tasks import order_reconcile_customer_task

    stop = threading.Event()

    def tick() -> None:
        try:
            while not stop.wait(seconds):
                for customer_id, exchange in list(reconcile_pairs()):
                    order_reconcile_customer_task(str(customer_id), exchange)
        finally:
            connection.close()

    thread = threading.Thread(target=tick, name="test-beat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
