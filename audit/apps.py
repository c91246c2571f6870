from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Configuration audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import recorder

        recorder.connect()
