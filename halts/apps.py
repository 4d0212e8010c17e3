from django.apps import AppConfig


class HaltsConfig(AppConfig):
    name = "halts"
    verbose_name = "Trading halts"

    def ready(self) -> None:
        from generations.store import generation_bumped_by
        from halts.models import TradingHalt

        # The active halts are cached in every process (halts.selectors): a halt set or lifted must be
        # seen by every process's next order at once.
        generation_bumped_by(TradingHalt)
