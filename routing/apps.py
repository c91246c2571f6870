from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from config.schedule import register
        from routing import batch, explain, listeners, offers, overflow, signals, timers

        signals.connect()
        listeners.connect()
        # Periodic jobs (config/schedule.py), after the SLA scan; each service
        # is looked up when its job runs.
        register("routing.expire_offers", lambda now: offers.expire_offers(now=now), order=40)
        register("routing.end_due_wrap_ups", lambda now: timers.end_due_wrap_ups(now=now), order=41)
        register("routing.check_first_replies", lambda now: timers.check_first_replies(now=now), order=42)
        register("routing.apply_overflow", lambda now: overflow.apply_overflow(now=now), order=43)
        register("routing.route_waiting", lambda now: batch.route_waiting(now=now), order=44)
        register("routing.purge_explanations", explain.purge_now_and_then, order=50)  # at most every 10 minutes
