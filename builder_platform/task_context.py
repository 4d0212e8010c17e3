"""The log context travels with Celery messages: the request id and partner of whatever queued a task,
restored in the worker with the task's id and the order or customer it works on."""

from __future__ import annotations

import inspect
from typing import Any

from celery import signals

from builder_platform.logs import log_context, log_context_bind, log_context_reset

# Message headers the publisher adds; protocol 2 hands unknown headers to the task as request attributes.
CARRIED = {"request_id": "log_request_id", "partner_id": "log_partner_id"}
# Task parameters named like a context field: their value says what the task works on.
WORK_FIELDS = ("order_id", "customer_id", "partner_id")

TOKEN_ATTRIBUTE = "log_context_token"  # noqa: S105 - a contextvars token, not a secret


@signals.before_task_publish.connect
def _carry_context(headers: dict | None = None, **kwargs: Any) -> None:
    if headers is None:
        return
    context = log_context()
    for field, header in CARRIED.items():
        if context.get(field):
            headers.setdefault(header, context[field])


def task_work_fields(task: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """order_id / customer_id / partner_id from the task's own arguments, by parameter name."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return {}
    return {name: bound.arguments[name] for name in WORK_FIELDS if name in bound.arguments}


def _header(request: Any, name: str) -> Any:
    value = getattr(request, name, None)
    if value is None and isinstance(getattr(request, "headers", None), dict):
        value = request.headers.get(name)
    return value


@signals.task_prerun.connect
def _restore_context(task_id: str | None = None, task: Any = None, args=None, kwargs=None, **_: Any) -> None:
    if task is None or task_id is None:
        return
    # Beat's tasks and those sent from a shell have no request id: their task id is the thread to follow.
    carried = {field: _header(task.request, header) for field, header in CARRIED.items()}
    fields = {**carried, **task_work_fields(task, args, kwargs), "task_id": task_id}
    # Kept on the task's own request (pushed before prerun, popped after postrun), so two copies of one
    # task id running at once in two threads each restore their own.
    setattr(task.request, TOKEN_ATTRIBUTE, log_context_bind(**fields))


@signals.task_postrun.connect
def _clear_context(task: Any = None, **_: Any) -> None:
    token = getattr(task.request, TOKEN_ATTRIBUTE, None) if task is not None else None
    if token is not None:
        setattr(task.request, TOKEN_ATTRIBUTE, None)
        log_context_reset(token)
