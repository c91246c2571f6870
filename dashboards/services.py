"""Supervisors' changes from the dashboard that are not case actions
(those are ``routing.supervision.assign_case`` and ``transfer_to_queue``, on the
case timeline): a queue's priority, a whole channel kind's priority, an
agent's capacity or status. Each leaves a ``SupervisorAction`` audit record
(and, where cases change, their timeline) and reaches every dashboard through
events published on commit."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from agents import services as agent_services
from agents.models import PresenceStatus
from cases.models import Case, CaseEvent, CaseStatus
from config.api import Invalid
from config.channel_kinds import CHANNEL_KINDS
from config.events import publish_on_commit
from dashboards.events import QueueChanged
from dashboards.models import SupervisorAction
from routing import configuration as routing_configuration
from routing.models import Queue
from routing.ranking import refresh_ranks

CHUNK = 2000


def set_queue_priority(*, queue_id: int, priority: int, actor, now: datetime) -> Queue:
    """1 (most urgent) to 5; waiting cases of the queue are re-ranked at once."""
    with transaction.atomic():
        change = routing_configuration.set_queue_priority(queue_id=queue_id, priority=priority)
        SupervisorAction.objects.create(
            kind=SupervisorAction.Kind.QUEUE_PRIORITY,
            actor=actor,
            queue=change.queue,
            data={"from": change.before, "to": priority, "reranked": change.reranked},
            created_at=now,
        )
        publish_on_commit(QueueChanged(queue_id=change.queue.pk))
    return change.queue


def set_channel_kind_priority(*, channel_kind: str, priority: int, actor, now: datetime, queue_ids=None) -> int:
    """Every waiting case of this channel kind (in these queues, or any)
    takes this case priority, 1 (urgent) to 4 (low), on its timeline, and is
    re-ranked; routing rules that match only this kind set it for new cases.
    Returns how many waiting cases changed."""
    if channel_kind not in CHANNEL_KINDS:
        raise Invalid(f"unknown channel kind {channel_kind!r}")
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 4:
        raise Invalid("a case priority is a whole number from 1 (urgent) to 4 (low)")
    with transaction.atomic():
        qs = Case.objects.filter(channel_kind=channel_kind, status__in=[CaseStatus.QUEUED, CaseStatus.OFFERED]).exclude(
            priority=priority
        )
        if queue_ids is not None:
            qs = qs.filter(queue_id__in=list(queue_ids))
        changed = list(qs.select_for_update(skip_locked=True).values_list("pk", "priority", "queue_id"))
        for start in range(0, len(changed), CHUNK):
            part = changed[start : start + CHUNK]
            ids = [pk for pk, _, _ in part]
            Case.objects.filter(pk__in=ids).update(priority=priority, updated_at=now)
            CaseEvent.objects.bulk_create(
                [
                    CaseEvent(
                        case_id=pk,
                        kind=CaseEvent.Kind.PRIORITY_CHANGED,
                        actor=actor,
                        created_at=now,
                        data={"from": old, "to": priority, "channel_kind": channel_kind, "by": "supervisor"},
                    )
                    for pk, old, _ in part
                ]
            )
            refresh_ranks(case_ids=ids)
        rule_ids = routing_configuration.set_rule_priority_for_channel_kind(
            channel_kind=channel_kind, priority=priority
        )
        SupervisorAction.objects.create(
            kind=SupervisorAction.Kind.CHANNEL_PRIORITY,
            actor=actor,
            data={"channel_kind": channel_kind, "to": priority, "cases": len(changed), "rules": rule_ids},
            created_at=now,
        )
        for queue_id in sorted({q for _, _, q in changed if q is not None}):
            publish_on_commit(QueueChanged(queue_id=queue_id))
    return len(changed)


def set_agent_status(*, agent_id: int, status_id: int, actor, now: datetime):
    status = PresenceStatus.objects.filter(pk=status_id).first()
    if status is None:
        raise Invalid(f"no presence status {status_id}")
    with transaction.atomic():
        agent = agent_services.set_status(
            agent_id=agent_id, status_id=status_id, now=now, reason=f"Set to {status.name} by {_name(actor)}."
        )
        SupervisorAction.objects.create(
            kind=SupervisorAction.Kind.AGENT_STATUS,
            actor=actor,
            agent=agent,
            data={"status_id": status.pk, "status": status.name},
            created_at=now,
        )
    return agent


def set_agent_capacity(*, agent_id: int, actor, now: datetime, total: int | None, per_kind: dict[str, int]):
    with transaction.atomic():
        agent = agent_services.set_capacity(agent_id=agent_id, now=now, total=total, per_kind=per_kind)
        SupervisorAction.objects.create(
            kind=SupervisorAction.Kind.AGENT_CAPACITY,
            actor=actor,
            agent=agent,
            data={"total": total, "per_kind": per_kind},
            created_at=now,
        )
    return agent


def _name(user) -> str:
    if user is None:
        return "a supervisor"
    return user.get_full_name() or user.username
