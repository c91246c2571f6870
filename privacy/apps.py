from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Customer data (export, erasure, retention)"

    def ready(self) -> None:
        from config.schedule import register
        from privacy import retention

        # Periodic job (config/schedule.py): retention (SWITCHBOARD_RETENTION_DAYS), at most hourly.
        register("privacy.purge_expired", retention.purge_now_and_then, order=80)
