from django.apps import AppConfig


class GenerationsConfig(AppConfig):
    name = "generations"
    verbose_name = "Read cache generations"
    default_auto_field = "django.db.models.BigAutoField"
