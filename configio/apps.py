from django.apps import AppConfig


class ConfigioConfig(AppConfig):
    name = "configio"
    verbose_name = "Configuration export and import"
