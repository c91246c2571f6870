"""Forget this process's planning pools when an
agent changes here or work that held room ends (other processes' caches
expire within a second or two; the router re-reads fresh state under the
agents' locks before it writes, so a stale cache never breaks a promise)."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save

from agents.events import AgentChanged
from cases.events import CaseStatusChanged
from cases.models import CaseStatus
from config import events
from routing.events import OfferClosed


def _forget(**kwargs) -> None:
    from routing.selectors import planning

    planning.clear()


# Case statuses after which an agent may have more room than a pool says. Not
# "queued": every arrival is one, and the rare case sent back to a queue by
# its agent frees room that a pool sees within ROUTER_STATE_MS anyway.
_FREEING = {CaseStatus.RESOLVED, CaseStatus.CLOSED}


def _room_freed(event) -> None:
    from routing.selectors import planning

    if not isinstance(event, CaseStatusChanged) or event.status in _FREEING:
        planning.clear()


def _forget_queues(**kwargs) -> None:
    from routing.selectors import _queues, _settings

    _queues.clear()
    _settings.clear()


def connect() -> None:
    from agents.models import Agent, AgentCapacity, AgentSkill
    from routing.models import Queue, RoutingSettings

    for model in (AgentSkill, AgentCapacity):
        post_save.connect(_forget, sender=model, dispatch_uid=f"routing-forget-save-{model.__name__}")
        post_delete.connect(_forget, sender=model, dispatch_uid=f"routing-forget-delete-{model.__name__}")
    m2m_changed.connect(_forget, sender=Agent.teams.through, dispatch_uid="routing-forget-teams")
    m2m_changed.connect(_forget, sender=Queue.agents.through, dispatch_uid="routing-forget-queue-agents")
    m2m_changed.connect(_forget_queues, sender=Queue.agents.through, dispatch_uid="routing-forget-queue-members")
    for model in (Queue, RoutingSettings):
        post_save.connect(_forget_queues, sender=model, dispatch_uid=f"routing-forget-{model.__name__}")
        post_delete.connect(_forget_queues, sender=model, dispatch_uid=f"routing-forget-del-{model.__name__}")
    # Presence, status and capacity changes; declined and missed offers;
    # cases resolved or closed.
    events.subscribe(AgentChanged, _room_freed)
    events.subscribe(OfferClosed, _room_freed)
    events.subscribe(CaseStatusChanged, _room_freed)
