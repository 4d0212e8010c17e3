"""Partner API routes for fees, mounted at /api/v1/."""

from django.urls import path

from fees import apis

urlpatterns = [
    path("fees/statement", apis.FeeStatementApi.as_view(), name="fee-statement"),
]
