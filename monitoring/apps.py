from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from monitoring import tracing

        # Only when OTEL_EXPORTER_OTLP_ENDPOINT is set; otherwise nothing is imported or patched.
        tracing.tracing_start()
