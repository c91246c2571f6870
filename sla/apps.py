from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from config.schedule import register
        from sla import listeners, tasks

        listeners.connect()
        # Periodic job (config/schedule.py): SLA warnings and breaches,
        # promises, lost clocks; each step's failure is logged by the scan
        # itself. It takes its own clock, as the Celery task does.
        register("sla.scan", lambda now: tasks.scan_due.run(), order=30)
