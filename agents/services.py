"""Writes to agents: presence and status.

An agent is routable while its status enables a channel kind *and* a live
session keeps extending ``present_until``; several tabs count as one
presence, and a tab throttled in the background does not flap the agent
offline as long as it beats within the grace period.

When the agent may take more work, ``AgentGainedRoom`` leaves on commit and
routing offers it waiting cases (``routing/listeners.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from agents.events import AgentChanged, AgentGainedRoom
from agents.models import Agent, PresenceStatus
from config.api import Invalid
from config.events import publish_on_commit


def _grace() -> timedelta:
    return timedelta(seconds=settings.SWITCHBOARD["PRESENCE_GRACE_SECONDS"])


def touch_presence(*, agent_id: int, now: datetime) -> bool:
    """A live session says the agent is here. Returns True when the agent was
    not present before (it may now pull waiting work)."""
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=agent_id)
        was_present = agent.is_present(now)
        agent.present_until = now + _grace()
        agent.save(update_fields=["present_until"])
        if not was_present:
            publish_on_commit(AgentChanged(agent_id=agent.pk))
            publish_on_commit(AgentGainedRoom(agent_id=agent.pk))
    return not was_present


def end_presence(*, agent_id: int, now: datetime) -> None:
    """Logging out: no new offers; work in hand stays with the agent."""
    with transaction.atomic():
        Agent.objects.filter(pk=agent_id).update(present_until=now)
        publish_on_commit(AgentChanged(agent_id=agent_id))


def set_status(*, agent_id: int, status_id: int, now: datetime, reason: str = "") -> Agent:
    """``reason``: why, when someone else (a supervisor) sets it; empty when
    the agent chose it."""
    status = PresenceStatus.objects.filter(pk=status_id).first()
    if status is None:
        raise Invalid(f"no presence status {status_id}")
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=agent_id)
        if agent.status_id != status.pk:
            agent.status = status
            agent.status_since = now
            agent.status_reason = reason[:200]
            agent.missed_offers = 0
            agent.save(update_fields=["status", "status_since", "status_reason", "missed_offers"])
            publish_on_commit(AgentChanged(agent_id=agent.pk))
            if status.channel_kinds:
                publish_on_commit(AgentGainedRoom(agent_id=agent.pk))
    return agent


def set_capacity(
    *, agent_id: int, now: datetime, total: int | None = None, per_kind: dict[str, int] | None = None
) -> Agent:
    """Change how much work an agent holds at once: in total and per channel
    kind (0 removes a kind). Work already held stays; more room lets the agent
    pull waiting cases at once."""
    from agents.models import AgentCapacity
    from config.channel_kinds import CHANNEL_KINDS

    per_kind = per_kind or {}
    unknown = sorted(set(per_kind) - set(CHANNEL_KINDS))
    if unknown:
        raise Invalid(f"unknown channel kind(s): {', '.join(unknown)}")
    if total is not None and not 1 <= total <= 1000:
        raise Invalid("total capacity must be between 1 and 1000")
    if any(
        not isinstance(units, int) or isinstance(units, bool) or not 0 <= units <= 1000 for units in per_kind.values()
    ):
        raise Invalid("capacity per channel kind must be a whole number between 0 and 1000")
    with transaction.atomic():
        agent = Agent.objects.select_for_update().get(pk=agent_id)
        if total is not None and agent.capacity_total != total:
            agent.capacity_total = total
            agent.save(update_fields=["capacity_total"])
        for kind, units in per_kind.items():
            if units == 0:
                AgentCapacity.objects.filter(agent=agent, channel_kind=kind).delete()
            else:
                AgentCapacity.objects.update_or_create(agent=agent, channel_kind=kind, defaults={"units": units})
        publish_on_commit(AgentChanged(agent_id=agent.pk))
        publish_on_commit(AgentGainedRoom(agent_id=agent.pk))
    return agent
