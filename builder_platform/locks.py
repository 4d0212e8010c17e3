"""A lock that holds across processes until the transaction ends, for the few count-then-insert checks."""

from __future__ import annotations

import hashlib

from django.db import connection


def transaction_lock(key: str) -> None:
    """Hold the lock named `key` until the current transaction ends; concurrent holders take turns.

    PostgreSQL: a transaction-level advisory lock on a 64-bit hash of the key (released by commit or
    rollback, never left behind). SQLite: nothing to take, because its transactions begin IMMEDIATE
    (see settings), so writers already take turns for a whole transaction.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("transaction_lock() holds until the transaction ends: call it inside one")
    if connection.vendor != "postgresql":
        return
    lock_id = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id])
