from django.apps import AppConfig


class SlaConfig(AppConfig):
    name = "sla"
    verbose_name = "SLA"

    def ready(self) -> None:
        from routing import queue_settings
        from sla import listeners
        from sla.selectors import closed_queue_ids

        listeners.connect()
        # Queues' opening hours come from SLA calendars: the router asks here.
        queue_settings.set_opening_hours_source(closed_queue_ids)
