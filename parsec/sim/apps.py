from django.apps import AppConfig


class SimConfig(AppConfig):
    name = "parsec.sim"
    label = "sim"
    verbose_name = "Parsec simulator"
