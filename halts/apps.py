from django.apps import AppConfig


class HaltsConfig(AppConfig):
    name = "halts"
    verbose_name = "Trading halts"
