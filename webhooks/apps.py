from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        # The event log sits left of every app and knows nothing of webhooks: it calls what registers.
        from events.registry import on_event_recorded
        from generations.store import generation_bumped_by
        from webhooks.models import WebhookEndpoint
        from webhooks.services import webhook_deliveries_create

        on_event_recorded(webhook_deliveries_create)
        # A partner's enabled endpoints are cached in every process (webhooks.services).
        generation_bumped_by(WebhookEndpoint)
