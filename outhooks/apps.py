from django.apps import AppConfig


class OuthooksConfig(AppConfig):
    name = "outhooks"
    verbose_name = "Outbound webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from outhooks import listeners

        listeners.connect()
