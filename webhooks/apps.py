from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The event log sits left of every app and knows nothing of webhooks: it calls what registers.
        from events.registry import on_event_recorded
        from webhooks.services import webhook_deliveries_create, webhook_deliveries_create_many

        on_event_recorded(webhook_deliveries_create, many=webhook_deliveries_create_many)
