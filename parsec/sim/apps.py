from django.apps import AppConfig


class SimConfig(AppConfig):
    name = "parsec.sim"
    label = "sim"
    verbose_name = "Parsec simulator"

    def ready(self) -> None:
        from parsec.sim import checks  # noqa: F401 - registers the system checks
