"""Admin for the audit trail: read, filter, export as CSV; never add, change or delete."""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html

from audit.models import AuditEntry
from audit.selectors import audit_entries_csv


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "actor_label",
        "partner",
        "target_type",
        "target_id",
        "summary",
        "ip",
    ]
    list_filter = ["action", "actor_type", "partner", "created_at"]
    search_fields = ["=target_id", "actor_label", "=actor_key_prefix", "summary", "=ip"]
    search_help_text = "An object id (exact), a key prefix or staff name, words of the summary, or an IP."
    list_select_related = ["partner"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "action", "actor_type", "actor_label", "actor_user", "actor_key_prefix", "ip",
        "partner", "target_type", "target_id", "summary", "pretty_before", "pretty_after",
    ]  # fmt: skip
    readonly_fields = fields
    change_list_template = "admin/audit/auditentry/change_list.html"
    actions = ["export_selected"]

    @admin.display(description="before")
    def pretty_before(self, entry: AuditEntry) -> str:
        return format_html("<pre>{}</pre>", json.dumps(entry.before, indent=2, sort_keys=True))

    @admin.display(description="after")
    def pretty_after(self, entry: AuditEntry) -> str:
        return format_html("<pre>{}</pre>", json.dumps(entry.after, indent=2, sort_keys=True))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_view)
        return [path("export.csv", export, name="audit_auditentry_export"), *super().get_urls()]

    def _csv(self, queryset) -> StreamingHttpResponse:
        response = StreamingHttpResponse(
            audit_entries_csv(queryset.order_by("created_at", "id").iterator(chunk_size=2000)),
            content_type="text/csv; charset=utf-8",
        )
        name = f"audit-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        """Every entry the list's current filters and search match (the query string is the list's)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return self._csv(changelist.get_queryset(request))

    @admin.action(description="Export selected entries as CSV")
    def export_selected(self, request: HttpRequest, queryset):
        return self._csv(queryset)
