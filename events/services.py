"""Recording events (in the caller's transaction) and purging them after their retention."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max

from builder_platform.inserts import row_insert
from events.models import Event
from events.registry import EVENT_TYPES, recorded_hooks
from parsec.client import encode_json

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def event_id_new(now: datetime | None = None) -> str:
    """evt_ + a ULID: 48 bits of milliseconds then 80 random bits, so ids sort by creation time."""
    milliseconds = int((now.timestamp() if now else time.time()) * 1000)
    value = (milliseconds << 80) | int.from_bytes(os.urandom(10), "big")
    characters = []
    for _ in range(26):
        characters.append(_CROCKFORD[value & 31])
        value >>= 5
    return "evt_" + "".join(reversed(characters))


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def _next_version(*, object_type: str, object_id: str) -> int:
    # For objects without a counter of their own (customers, fees): one more than the last event's.
    # Callers hold the object's row lock, so two changes of one object cannot both read the same max.
    latest = Event.objects.filter(object_type=object_type, object_id=object_id).aggregate(Max("version"))
    return (latest["version__max"] or 0) + 1


@dataclass(frozen=True)
class EventToRecord:
    """One event of a batch for `events_record_many`: the arguments of `event_record` with a version."""

    partner_id: int
    type: str
    object_type: str
    object_id: str
    data: dict[str, Any]
    version: int


def _type_check(type: str) -> None:  # noqa: A002
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}: add it to events.registry.EVENT_TYPES")


def _event_row(event: EventToRecord, *, now: datetime) -> Event:
    """The row of one event, its body the exact webhook body (`data` carries the object's version)."""
    data = event.data
    if isinstance(data, dict) and "version" not in data:
        data = {**data, "version": event.version}
    event_id = event_id_new(now)
    return Event(
        id=event_id,
        partner_id=event.partner_id,
        type=event.type,
        object_type=event.object_type,
        object_id=str(event.object_id),
        version=event.version,
        body=encode_json({"id": event_id, "type": event.type, "timestamp": rfc3339(now), "data": data}),
        created_at=now,
    )


def event_record(
    *,
    partner_id: int,
    type: str,  # noqa: A002  (the field's name in the event body)
    object_type: str,
    object_id: str,
    data: dict[str, Any],
    now: datetime,
    version: int | None = None,
    deliver: bool = True,
) -> Event:
    """Write one event in the caller's transaction (its own when there is none).

    `data` is the object as the partner API renders it; `version` the object's version after the
    change (computed from the object's earlier events when the object keeps none). With `deliver`,
    the registered hooks (webhook deliveries) run in the same transaction.
    """
    _type_check(type)
    # No savepoint: nothing catches a failure here and carries on in the same transaction.
    with transaction.atomic(savepoint=False):
        if version is None:
            version = _next_version(object_type=object_type, object_id=object_id)
        event = _event_row(EventToRecord(partner_id, type, object_type, object_id, data, version), now=now)
        row_insert(event)  # a fixed INSERT: every order create records one event
        if deliver:
            for hook in recorded_hooks():
                hook(event)
    return event


def events_record_many(events: list[EventToRecord], *, now: datetime) -> list[Event]:
    """`event_record` for many objects that keep their own version: one INSERT, the hooks for each.

    For a service that changed many objects in one transaction (the submission recording a batch of
    Parsec's answers): the same rows and bodies as one `event_record` call each, in the caller's
    transaction.
    """
    for event in events:
        _type_check(event.type)
    rows = [_event_row(event, now=now) for event in events]
    with transaction.atomic(savepoint=False):
        Event.objects.bulk_create(rows)
        hooks = recorded_hooks()
        for row in rows:
            for hook in hooks:
                hook(row)
    return rows


def events_purge(*, now: datetime, batch: int = 5000) -> int:
    """Delete events older than WEBHOOK_EVENT_RETENTION_DAYS (and, with them, their deliveries)."""
    cutoff = now - timedelta(days=settings.WEBHOOK_EVENT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(
            Event.objects.filter(created_at__lt=cutoff).order_by().values_list("id", flat=True)[:batch]
        )
        if not ids:
            return deleted
        Event.objects.filter(id__in=ids).delete()
        deleted += len(ids)
