from django.apps import AppConfig


class RateLimitsConfig(AppConfig):
    name = "ratelimits"
    verbose_name = "Rate limits"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # parsec sits left of this app and never imports it: the Parsec client's builder is told here
        # which limiter paces its calls.
        from generations.store import generation_bumped_by
        from parsec.conf import register_rate_limiter
        from ratelimits.models import PartnerRateLimit
        from ratelimits.parsec_budget import budget_from_settings

        register_rate_limiter(budget_from_settings)
        # A partner's override is cached with its API key (customers.authentication).
        generation_bumped_by(PartnerRateLimit)
