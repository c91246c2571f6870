from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and metrics"

    def ready(self) -> None:
        from reports import listeners

        listeners.connect()
