"""Reads of agents shared by the API, pages and other apps: who a user is."""

from __future__ import annotations

from agents.models import Agent, Role
from config.roles import role_from_groups


def role_of(user) -> str | None:
    """The user's role: from superuser and groups, else agent when the user
    has an agent profile, else None."""
    if not user or not user.is_authenticated:
        return None
    role = role_from_groups(user)
    if role is not None:
        return role
    return Role.AGENT if Agent.objects.filter(user=user).exists() else None


def agent_visible_to(user, agent_id: int) -> bool:
    """Admins see every agent; supervisors the agents of their teams."""
    role = role_of(user)
    if role == Role.ADMIN:
        return Agent.objects.filter(pk=agent_id).exists()
    if role == Role.SUPERVISOR:
        return Agent.objects.filter(pk=agent_id, teams__in=user.supervised_teams.all()).exists()
    return False
