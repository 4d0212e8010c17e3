"""Admin for the event log: read-only, searchable by event id and object id."""

from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "type", "object_type", "object_id", "version", "partner"]
    list_filter = ["type", "object_type", "partner", "created_at"]
    # Ids match exactly: an order's, customer's or endpoint's id lists every event about it.
    search_fields = ["=id", "=object_id"]
    search_help_text = "An event id (evt_...), or the id of the order, customer or endpoint it is about."
    list_select_related = ["partner"]
    date_hierarchy = "created_at"
    fields = ["id", "type", "partner", "object_type", "object_id", "version", "created_at", "pretty_body"]
    readonly_fields = fields

    @admin.display(description="body (as delivered)")
    def pretty_body(self, event: Event) -> str:
        return format_html("<pre>{}</pre>", json.dumps(json.loads(event.body), indent=2))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
