from django.apps import AppConfig


class OuthooksConfig(AppConfig):
    name = "outhooks"
    verbose_name = "Outbound webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from config.schedule import register
        from outhooks import listeners, services

        listeners.connect()
        # Periodic job (config/schedule.py): outbound event webhooks due for an attempt.
        register("outhooks.deliver_due", services.deliver_due, order=20)
