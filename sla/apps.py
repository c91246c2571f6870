from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from config.schedule import register
        from routing import queue_settings
        from sla import listeners, tasks
        from sla.selectors import closed_queue_ids

        listeners.connect()
        # Queues' opening hours come from SLA calendars: the router asks here.
        queue_settings.set_opening_hours_source(closed_queue_ids)
        # Periodic job (config/schedule.py): SLA warnings and breaches,
        # promises, lost clocks; each step's failure is logged by the scan
        # itself. It takes its own clock, as the Celery task does.
        register("sla.scan", lambda now: tasks.scan_due.run(), order=30)
