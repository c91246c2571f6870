"""Tell this process's planning pools what changed here: an agent (read
again before the next plan) or memberships and settings (read all anew).
Other processes' pools are read anew within ROUTER_STATE_MS; the router
re-reads the chosen agents under their locks before it writes, so a stale
pool never breaks a promise."""

from __future__ import annotations

from django.db.models import Model
from django.db.models.signals import m2m_changed, post_delete, post_save

from agents.events import AgentChanged
from cases.events import CaseStatusChanged
from cases.models import CaseStatus
from config import events
from routing.events import OfferClosed


def _forget(**kwargs) -> None:
    """Memberships changed: every pool reads all agents anew."""
    from routing.pool import planning

    planning.clear()


def _agent_profile_changed(instance, **kwargs) -> None:
    """A skill or capacity row saved or deleted here: read that agent again."""
    from routing.pool import planning

    planning.changed(instance.agent_id)


# Case statuses after which an agent has more room than a pool says. Not
# "queued": every arrival is one, and the rare case sent back to a queue by
# its agent frees room that a pool sees within ROUTER_STATE_MS anyway.
_FREEING = {CaseStatus.RESOLVED, CaseStatus.CLOSED}


def _agent_changed(event) -> None:
    """Presence, status or capacity changed; an offer closed (declined, timed
    out, accepted); a case resolved or closed: read that agent again."""
    from routing.pool import planning

    if isinstance(event, CaseStatusChanged):
        if event.status in _FREEING:
            planning.changed(event.assignee_id)
    else:
        planning.changed(event.agent_id)


def _forget_queues(**kwargs) -> None:
    from routing import queue_settings

    queue_settings.forget()


def connect() -> None:
    from agents.models import Agent, AgentCapacity, AgentSkill
    from routing.models import Queue, RoutingSettings

    model: type[Model]
    for model in (AgentSkill, AgentCapacity):
        post_save.connect(_agent_profile_changed, sender=model, dispatch_uid=f"routing-forget-save-{model.__name__}")
        post_delete.connect(_agent_profile_changed, sender=model, dispatch_uid=f"routing-forget-del-{model.__name__}")
    m2m_changed.connect(_forget, sender=Agent.teams.through, dispatch_uid="routing-forget-teams")
    m2m_changed.connect(_forget, sender=Queue.agents.through, dispatch_uid="routing-forget-queue-agents")
    m2m_changed.connect(_forget_queues, sender=Queue.agents.through, dispatch_uid="routing-forget-queue-members")
    for model in (Queue, RoutingSettings):
        post_save.connect(_forget_queues, sender=model, dispatch_uid=f"routing-forget-{model.__name__}")
        post_delete.connect(_forget_queues, sender=model, dispatch_uid=f"routing-forget-del-{model.__name__}")
    # Presence, status and capacity changes; declined and missed offers;
    # cases resolved or closed.
    events.subscribe(AgentChanged, _agent_changed)
    events.subscribe(OfferClosed, _agent_changed)
    events.subscribe(CaseStatusChanged, _agent_changed)
