from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Connectors"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from config.schedule import register
        from connectors import listeners, services
        from connectors.models import Channel
        from connectors.webchat import listeners as webchat_listeners
        from connectors.webhooks import channels

        listeners.connect()
        webchat_listeners.connect()
        post_save.connect(channels.clear, sender=Channel, dispatch_uid="connectors-forget-channels")
        post_delete.connect(channels.clear, sender=Channel, dispatch_uid="connectors-forget-channels-del")
        # Periodic jobs (config/schedule.py), first in each tick.
        register("connectors.retry_stale_events", services.retry_stale_events, order=10)
        register("connectors.retry_due_deliveries", services.retry_due_deliveries, order=11)  # outbound sends
