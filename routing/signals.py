"""Forget this process's cached agent profiles when one changes here (other
processes' caches expire within seconds; the router re-reads fresh state
under the agents' locks before it writes, so a stale profile never breaks a
promise)."""

from __future__ import annotations

from django.db.models.signals import m2m_changed, post_delete, post_save


def _forget(**kwargs) -> None:
    from routing.selectors import profiles

    profiles.clear()


def connect() -> None:
    from agents.models import Agent, AgentCapacity, AgentSkill
    from routing.models import Queue

    for model in (AgentSkill, AgentCapacity):
        post_save.connect(_forget, sender=model, dispatch_uid=f"routing-forget-save-{model.__name__}")
        post_delete.connect(_forget, sender=model, dispatch_uid=f"routing-forget-delete-{model.__name__}")
    m2m_changed.connect(_forget, sender=Agent.teams.through, dispatch_uid="routing-forget-teams")
    m2m_changed.connect(_forget, sender=Queue.agents.through, dispatch_uid="routing-forget-queue-agents")
