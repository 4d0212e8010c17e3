"""The metrics dashboard in the admin: every figure /metrics shows, now and over the last hour."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from monitoring import dashboard
from monitoring.figures import figures_now
from monitoring.models import MetricSample


@admin.register(MetricSample)
class MetricSampleAdmin(admin.ModelAdmin):
    """Its list is the dashboard: the samples are only the dashboard's memory of the last hour."""

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        now = timezone.now()
        figures = figures_now(now=now)
        counters, gauges = dashboard.dashboard_rows(figures=figures, now=now)
        context = {
            **self.admin_site.each_context(request),
            "title": "Metrics dashboard",
            "opts": self.model._meta,
            "now": now,
            "counters": counters,
            "gauges": gauges,
            "chart_width": dashboard.WIDTH,
            "chart_height": dashboard.HEIGHT,
        }
        return TemplateResponse(request, "admin/monitoring/dashboard.html", context)

    def has_add_permission(self, request) -> bool:
        return False  # written by beat once a minute

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
