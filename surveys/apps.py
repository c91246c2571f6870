from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Satisfaction surveys"

    def ready(self) -> None:
        from config.schedule import register
        from surveys import listeners, reconcile

        listeners.connect()
        # Periodic job (config/schedule.py): surveys whose resolution event was lost, at most once a minute.
        register("surveys.send_missing", reconcile.send_missing_now_and_then, order=70)
