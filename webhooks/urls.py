"""Partner API routes for the event log and webhook endpoints, mounted at /api/v1/."""

from django.urls import path

from webhooks import apis

urlpatterns = [
    path("events", apis.EventListApi.as_view(), name="events"),
    path("events/<str:event_id>", apis.EventDetailApi.as_view(), name="event"),
    path("events/<str:event_id>/resend", apis.EventResendApi.as_view(), name="event-resend"),
    path("webhook-endpoints", apis.WebhookEndpointListCreateApi.as_view(), name="webhook-endpoints"),
    path(
        "webhook-endpoints/<str:endpoint_id>",
        apis.WebhookEndpointDetailApi.as_view(),
        name="webhook-endpoint",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/rotate-secret",
        apis.WebhookEndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/test",
        apis.WebhookEndpointTestApi.as_view(),
        name="webhook-endpoint-test",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/deliveries",
        apis.WebhookEndpointDeliveriesApi.as_view(),
        name="webhook-endpoint-deliveries",
    ),
]
