"""The presence log (``StatusSpan``): the agents app keeps only an agent's
current status (``Agent.status``, ``status_since``); this keeps the history
that time per status and occupancy need. ``AgentChanged`` (published on
commit by every presence, status and capacity change) makes us compare the
agent's status with its open span and, when it differs, close that span and
open a new one at ``status_since``."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent
from reports.models import StatusSpan


def record_status(*, agent_id: int, now: datetime | None = None) -> StatusSpan | None:
    """Bring the agent's open span in line with its status; returns the span
    opened, or None when nothing changed."""
    now = now or timezone.now()
    agent = Agent.objects.filter(pk=agent_id).select_related("status").first()
    if agent is None:
        return None
    name = agent.status.name if agent.status else ""
    routable = bool(agent.status and agent.status.channel_kinds)
    since = agent.status_since or now
    try:
        with transaction.atomic():
            current = StatusSpan.objects.select_for_update().filter(agent_id=agent_id, ended_at__isnull=True).first()
            if current is not None and current.status_name == name:
                return None
            if current is not None:
                current.ended_at = max(since, current.started_at)
                current.save(update_fields=["ended_at"])
            start = since if current is None else max(since, current.started_at)
            return StatusSpan.objects.create(agent_id=agent_id, status_name=name, routable=routable, started_at=start)
    except IntegrityError:
        return None  # another process opened the same span at the same moment


def open_missing_spans(*, now: datetime) -> int:
    """Agents with a status but no open span (they existed before the
    presence log, or an event was lost) get one from their ``status_since``."""
    missing = Agent.objects.exclude(pk__in=StatusSpan.objects.filter(ended_at__isnull=True).values("agent_id"))
    opened = 0
    for agent_id in missing.filter(status__isnull=False).values_list("pk", flat=True):
        opened += record_status(agent_id=agent_id, now=now) is not None
    return opened
