from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and metrics"

    def ready(self) -> None:
        from config.schedule import register
        from reports import aggregate, listeners

        listeners.connect()
        # Periodic job (config/schedule.py): the hourly facts, at most once a minute.
        register("reports.aggregate", aggregate.aggregate_now_and_then, order=60)
