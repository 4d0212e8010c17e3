"""Keep the order services' task messages from leaving, for tests about answers rather than submission."""

from __future__ import annotations

from typing import Any

from builder_platform import enqueue


def drop_order_tasks(monkeypatch) -> None:
    """Order tasks (`orders.*`) are dropped; other apps' tasks are sent as usual."""
    send_for_real = enqueue.enqueue_on_commit

    def send(task_name: str, *args: Any, **options: Any) -> None:
        if not task_name.startswith("orders."):
            send_for_real(task_name, *args, **options)

    monkeypatch.setattr(enqueue, "enqueue_on_commit", send)
