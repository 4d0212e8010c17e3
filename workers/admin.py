"""The workers' liveness, for staff: which worker was seen when, and whether it counts as alive."""

from django.contrib import admin
from django.utils import timezone

from workers import selectors
from workers.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "alive", "last_seen", "started_at", "pid"]
    readonly_fields = ["hostname", "pid", "started_at", "last_seen_at"]

    @admin.display(boolean=True, description="alive")
    def alive(self, heartbeat: WorkerHeartbeat) -> bool:
        return selectors.worker_is_alive(heartbeat, now=timezone.now())

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, heartbeat: WorkerHeartbeat) -> str:
        seconds = max(0, int((timezone.now() - heartbeat.last_seen_at).total_seconds()))
        return f"{heartbeat.last_seen_at:%Y-%m-%d %H:%M:%S} UTC ({seconds} s ago)"

    def has_add_permission(self, request) -> bool:
        return False  # rows are written by the workers themselves

    def has_change_permission(self, request, obj=None) -> bool:
        return False
