"""After assignment: the response timer (an agent's first reply overdue)
and wrap-up (after-contact work ends, by the agent or its time limit)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction

from agents.models import Agent
from cases.models import Case, CaseEvent, CaseStatus
from cases.services import mark_idle_if_free, record
from config.api import DomainError, NotFound
from config.events import publish_on_commit
from routing.batch import release
from routing.errors import NotAllowed
from routing.events import CaseEscalated, case_status_changed
from routing.models import Queue
from routing.ranking import queue_case


def check_first_replies(*, now: datetime, limit: int = 500) -> int:
    """The response timer: an assigned case whose customer has waited longer
    than its queue allows for the agent's first reply is escalated to
    supervisors, or returned to the queue (without that agent), as the queue
    says. Each case is handled once."""
    acted = 0
    for queue in Queue.objects.filter(first_reply_minutes__gt=0):
        overdue = list(
            Case.objects.filter(
                queue=queue,
                status=CaseStatus.ASSIGNED,
                first_response_at__isnull=True,
                escalated_at__isnull=True,
                first_assigned_at__lte=now - timedelta(minutes=queue.first_reply_minutes),
            ).values_list("pk", flat=True)[:limit]
        )
        for case_id in overdue:
            with transaction.atomic():
                case = (
                    Case.objects.select_for_update(skip_locked=True)
                    .filter(pk=case_id, status=CaseStatus.ASSIGNED, first_response_at__isnull=True)
                    .first()
                )
                if case is None or case.escalated_at is not None:
                    continue
                reason = f"no first reply within {queue.first_reply_minutes} min"
                case.escalated_at = now
                case.save(update_fields=["escalated_at", "updated_at"])
                publish_on_commit(CaseEscalated(case_id=case.pk, queue_id=case.queue_id, reason=reason))
                if queue.first_reply_action == "requeue":
                    agent_id = case.assignee_id
                    record(case=case, kind=CaseEvent.Kind.RETURNED, now=now, agent_id=agent_id, reason=reason)
                    release(case, agent_id)
                    queue_case(case=case, now=now, excluded_agent_id=agent_id)
                else:
                    record(case=case, kind=CaseEvent.Kind.ESCALATED, now=now, reason=reason)
                acted += 1
    return acted


def end_wrap_up(*, case_id: int, agent: Agent | None, now: datetime) -> Case:
    """The agent finished after-contact work (or its time limit passed, with
    ``agent`` None): the case is resolved and the capacity frees."""
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        if agent is not None and case.assignee_id != agent.pk:
            raise NotAllowed(f"case {case_id} is not yours")
        if case.status != CaseStatus.WRAP_UP:
            raise NotAllowed(f"case {case_id} is {case.status}, not in wrap-up")
        case.status = CaseStatus.RESOLVED
        case.wrap_up_until = None
        case.save(update_fields=["status", "wrap_up_until", "updated_at"])
        record(case=case, kind=CaseEvent.Kind.RESOLVED, now=now, agent=case.assignee, wrap_up_ended=True)
        publish_on_commit(case_status_changed(case))
        if case.assignee_id is not None:
            mark_idle_if_free(agent_id=case.assignee_id, now=now)
        release(case, case.assignee_id)
    return case


def end_due_wrap_ups(*, now: datetime, limit: int = 500) -> int:
    due = list(
        Case.objects.filter(status=CaseStatus.WRAP_UP, wrap_up_until__lte=now).values_list("pk", flat=True)[:limit]
    )
    ended = 0
    for case_id in due:
        try:
            end_wrap_up(case_id=case_id, agent=None, now=now)
            ended += 1
        except DomainError:
            continue  # ended by the agent meanwhile
    return ended
