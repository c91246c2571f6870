"""Celery entry points of the SLA app; each only calls a service. The scans
also run from the periodic tick (``routing.tasks.tick``)."""

import logging

from celery import shared_task
from django.utils import timezone

from sla import promises, scan

log = logging.getLogger(__name__)


@shared_task(name="sla.tasks.scan")
def scan_due() -> None:
    """Fire due SLA warnings and breaches, promise reminders and misses. A
    failing batch rolls back (nothing is lost: the next tick retries it) and
    is logged; it never stops the rest of the tick."""
    now = timezone.now()
    for step in (scan.scan, promises.scan_promises):
        try:
            step(now=now)
        except Exception:
            log.exception("SLA scan step %s failed", step.__name__)
