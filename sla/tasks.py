"""Celery entry points of the SLA app; each only calls a service. The scans
also run from the periodic tick (``config.schedule``, registered in
``sla/apps.py``)."""

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.utils import timezone

from sla import promises, scan, services

log = logging.getLogger(__name__)

RECONCILE_EVERY = timedelta(minutes=1)
_last_reconcile: list[datetime] = []


def reconcile_now_and_then(*, now: datetime) -> int:
    """Start the clocks lost events never started (``start_missing_clocks``),
    at most every RECONCILE_EVERY in this process (the tick runs every second)."""
    if _last_reconcile and now - _last_reconcile[0] < RECONCILE_EVERY:
        return 0
    _last_reconcile[:] = [now]
    return services.start_missing_clocks(now=now)


@shared_task(name="sla.tasks.scan")
def scan_due() -> None:
    """Fire due SLA warnings and breaches, promise reminders and misses; now
    and then, start the clocks of cases whose CaseCreated was lost. A
    failing batch rolls back (nothing is lost: the next tick retries it) and
    is logged; it never stops the rest of the tick."""
    now = timezone.now()
    for step in (scan.scan, promises.scan_promises, reconcile_now_and_then):
        try:
            step(now=now)
        except Exception:
            log.exception("SLA scan step %s failed", step.__name__)
