"""Retention: ``SWITCHBOARD_RETENTION_DAYS`` purges resolved and closed cases
older than N days. Beat runs the task hourly in production; the periodic
tick (``config.schedule``, registered in ``privacy/apps.py``) runs it at
most hourly per process too, so embedded mode, which has no beat, purges as
well (running it twice is harmless: the second finds nothing)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from cases.models import Case, CaseStatus, Message
from connectors.models import EmailAttachment, InboundEvent
from dashboards.models import Escalation
from privacy.erasure import delete_files_on_commit
from privacy.models import ErasureRecord

log = logging.getLogger(__name__)


def purge_expired_cases(*, now: datetime, days: int, batch: int = 500) -> ErasureRecord | None:
    """Delete resolved and closed cases last touched more than ``days`` ago,
    with their messages, timeline, raw requests and files."""
    if days <= 0:
        return None
    cutoff = now - timedelta(days=days)
    expired = Case.objects.filter(status__in=[CaseStatus.RESOLVED, CaseStatus.CLOSED]).filter(
        Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, resolved_at__lt=cutoff)
    )
    totals = {"cases": 0, "messages": 0, "inbound_events": 0, "files": 0}
    while ids := list(expired.values_list("pk", flat=True)[:batch]):
        with transaction.atomic():
            cases = Case.objects.filter(pk__in=ids)
            raw = InboundEvent.objects.filter(message__case__in=cases)
            totals["files"] += delete_files_on_commit(EmailAttachment.objects.filter(event__in=raw))
            totals["inbound_events"] += raw.count()
            totals["messages"] += Message.objects.filter(case__in=cases).count()
            raw.delete()
            Escalation.objects.filter(case_id__in=ids).delete()
            totals["cases"] += cases.delete()[1].get("cases.Case", 0)
    if not totals["cases"]:
        return None
    log.info("retention: %s purged (older than %s days)", totals, days)
    return ErasureRecord.objects.create(
        kind=ErasureRecord.Kind.RETENTION, at=now, requested_by="retention", counts=totals
    )


_last_run: list[datetime] = []


def purge_now_and_then(now: datetime, *, every: timedelta = timedelta(hours=1)) -> ErasureRecord | None:
    """``purge_expired_cases`` with the configured days, at most every
    ``every`` in this process (the tick runs every second); a failure is
    logged and never stops the tick."""
    if _last_run and now - _last_run[0] < every:
        return None
    _last_run[:] = [now]
    try:
        return purge_expired_cases(now=now, days=settings.SWITCHBOARD["RETENTION_DAYS"])
    except Exception:
        log.exception("retention purge failed")
        return None
