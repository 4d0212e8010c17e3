"""Reads of the event log, always scoped to one partner."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from events.models import Event


def events_list(
    *,
    partner_id: int,
    type: str | None = None,  # noqa: A002
    object_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
) -> QuerySet[Event]:
    events = Event.objects.filter(partner_id=partner_id)
    if type:
        events = events.filter(type=type)
    if object_id:
        events = events.filter(object_id=object_id)
    if created_after:
        events = events.filter(created_at__gt=created_after)
    if created_before:
        events = events.filter(created_at__lt=created_before)
    return events


def event_get(*, partner_id: int, event_id: str) -> Event | None:
    return Event.objects.filter(partner_id=partner_id, id=event_id).first()
