"""Celery entry points of the router; each only calls a service."""

from celery import shared_task
from django.utils import timezone

from reports.aggregate import aggregate_now_and_then
from routing import batch, explain, offers, overflow, timers


@shared_task(name="routing.tasks.route_case")
def route_case(*, case_id: int) -> None:
    batch.route_case(case_id=case_id, now=timezone.now())


@shared_task(name="routing.tasks.route_agent")
def route_agent(*, agent_id: int) -> None:
    batch.route_agent(agent_id=agent_id, now=timezone.now())


@shared_task(name="routing.tasks.tick")
def tick() -> None:
    """The periodic scan (Celery beat in production, the in-process ticker in
    embedded mode): everything due is found from the database."""
    from connectors.services import retry_due_deliveries, retry_stale_events
    from outhooks.services import deliver_due
    from privacy.retention import purge_now_and_then as purge_expired_now_and_then
    from sla.tasks import scan_due
    from surveys.reconcile import send_missing_now_and_then

    now = timezone.now()
    retry_stale_events(now=now)
    retry_due_deliveries(now=now)  # outbound sends waiting for their next try
    deliver_due(now=now)  # outbound event webhooks (outhooks) due for an attempt
    scan_due.run()  # SLA warnings and breaches, promises (its failure is logged, never stops the tick)
    offers.expire_offers(now=now)
    timers.end_due_wrap_ups(now=now)
    timers.check_first_replies(now=now)
    overflow.apply_overflow(now=now)
    batch.route_waiting(now=now)
    explain.purge_now_and_then(now)
    aggregate_now_and_then(now)  # reports: the hourly facts, at most once a minute
    send_missing_now_and_then(now)  # surveys whose resolution event was lost, at most once a minute
    purge_expired_now_and_then(now)  # retention (SWITCHBOARD_RETENTION_DAYS), at most hourly
