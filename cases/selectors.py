"""Reads of cases shared by pages, the API and consumers."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from agents.models import Agent, Role
from agents.selectors import role_of
from cases.models import Case, CaseStatus


def visible_cases(user) -> QuerySet[Case]:
    """Agents see the cases assigned to them and those waiting in their
    queues; supervisors those of their teams' queues and agents, and any
    assigned to themselves; admins all."""
    role = role_of(user)
    qs = Case.objects.select_related("customer", "queue", "assignee")
    if role == Role.ADMIN:
        return qs
    if role == Role.SUPERVISOR:
        teams = user.supervised_teams.all()
        return qs.filter(Q(queue__team__in=teams) | Q(assignee__teams__in=teams) | Q(assignee__user=user)).distinct()
    agent = Agent.objects.filter(user=user).first()
    if agent is None:
        return qs.none()
    open_queue = Q(queue__isnull=True) | (Q(queue__team__isnull=True) & Q(queue__agents__isnull=True))
    waiting = Q(status__in=[CaseStatus.QUEUED, CaseStatus.OFFERED]) & (
        Q(queue__agents=agent) | Q(queue__team__agents=agent) | open_queue
    )
    offered = Q(status=CaseStatus.OFFERED, offers__agent=agent, offers__status="pending")
    return qs.filter(Q(assignee=agent) | waiting | offered).distinct()


# WhatsApp, Messenger and Instagram let a business answer freely for 24 hours
# after the customer's last message; after that only approved templates (or,
# on Messenger and Instagram, tagged messages) may be sent.
REPLY_WINDOW = timedelta(hours=24)
WINDOWED_CHANNEL_KINDS = frozenset({"whatsapp", "messenger", "instagram"})


def reply_window_closes_at(case: Case) -> datetime | None:
    """When free-text replies stop being allowed on the case's channel, or
    None when its channel has no such window. A case the customer never wrote
    on is closed from the start."""
    if case.channel_kind not in WINDOWED_CHANNEL_KINDS:
        return None
    if case.last_customer_message_at is None:
        return case.created_at
    return case.last_customer_message_at + REPLY_WINDOW


def is_reply_window_open(case: Case, *, now: datetime) -> bool:
    closes_at = reply_window_closes_at(case)
    return closes_at is None or now < closes_at
