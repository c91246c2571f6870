"""Reads of surveys shared by the API and the customer history."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from agents.models import Agent, Role
from agents.selectors import role_of
from surveys.models import Survey


def visible_surveys(user) -> QuerySet[Survey]:
    """Admins see every survey; supervisors those of their teams' queues and
    agents; agents those of their own cases."""
    role = role_of(user)
    qs = Survey.objects.select_related("agent", "queue")
    if role == Role.ADMIN:
        return qs
    if role == Role.SUPERVISOR:
        teams = user.supervised_teams.all()
        return qs.filter(Q(queue__team__in=teams) | Q(agent__teams__in=teams) | Q(agent__user=user)).distinct()
    agent = Agent.objects.filter(user=user).first()
    if agent is None:
        return qs.none()
    return qs.filter(agent=agent)


def answered_surveys_of(customer) -> list[Survey]:
    """A customer's answers, newest first, for their history."""
    return list(
        Survey.objects.filter(customer=customer, answered_at__isnull=False)
        .select_related("agent")
        .order_by("-answered_at", "-pk")
    )
