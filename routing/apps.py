from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = "Routing"

    def ready(self) -> None:
        from config.schedule import register
        from routing import explain, services, signals

        signals.connect()
        # Periodic jobs (config/schedule.py), after the SLA scan; each service
        # is looked up when its job runs.
        register("routing.expire_offers", lambda now: services.expire_offers(now=now), order=40)
        register("routing.end_due_wrap_ups", lambda now: services.end_due_wrap_ups(now=now), order=41)
        register("routing.check_first_replies", lambda now: services.check_first_replies(now=now), order=42)
        register("routing.apply_overflow", lambda now: services.apply_overflow(now=now), order=43)
        register("routing.route_waiting", lambda now: services.route_waiting(now=now), order=44)
        register("routing.purge_explanations", explain.purge_now_and_then, order=50)  # at most every 10 minutes
