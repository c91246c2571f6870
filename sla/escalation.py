"""Escalation actions, run inside the scan's transaction for a case it holds
locked: notify supervisors (the live escalation feed and email, both after
commit), raise the priority, move to an escalation queue, reassign to a team
lead. Each action is on the case's timeline."""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mass_mail
from django.db import transaction

from agents.models import Agent, Role
from cases.events import EscalationRaised
from cases.models import Case, CaseEvent, CaseStatus
from cases.services import record
from config.api import DomainError
from config.events import publish_many_on_commit

log = logging.getLogger(__name__)

NOTIFY = "notify"


def supervisor_emails(queue_id: int | None) -> list[str]:
    """The supervisors of the queue's team; without any, every supervisor."""
    users = User.objects.filter(supervised_teams__queues=queue_id) if queue_id else User.objects.none()
    if not users.exists():
        users = User.objects.filter(groups__name=Role.SUPERVISOR)
    return sorted({u.email for u in users.filter(is_active=True) if u.email})


class Escalations:
    """Collects what a scan batch raises and sends it once, after commit."""

    def __init__(self) -> None:
        self.events: list[EscalationRaised] = []
        self.mails: list[tuple[str, str, str, list[str]]] = []
        self._recipients: dict[int | None, list[str]] = {}  # by queue, read once per batch

    def feed(self, case: Case, *, kind: str, detail: str) -> None:
        """Into the supervisors' live escalation feed (every firing goes there)."""
        self.feed_case(case.pk, case.queue_id, kind=kind, detail=detail)

    def feed_case(self, case_id: int, queue_id: int | None, *, kind: str, detail: str) -> None:
        self.events.append(EscalationRaised(kind=kind, case_id=case_id, queue_id=queue_id, detail=detail))

    def email(self, case: Case, *, detail: str) -> str:
        if case.queue_id not in self._recipients:
            self._recipients[case.queue_id] = supervisor_emails(case.queue_id)
        recipients = self._recipients[case.queue_id]
        if recipients:
            subject = f"[Switchboard] {detail} — case {case.pk}"
            body = f"{detail}\n\nCase {case.pk}: {case.subject or '(no subject)'}\nStatus: {case.status}\n"
            self.mails.append((subject, body, settings.DEFAULT_FROM_EMAIL, recipients))
            return f"emailed {len(recipients)} supervisor{'s' if len(recipients) != 1 else ''}"
        return "no supervisor with an email address"

    def send_on_commit(self) -> None:
        publish_many_on_commit(self.events)
        if self.mails:
            mails = list(self.mails)
            transaction.on_commit(lambda: send_mass_mail(mails, fail_silently=True), robust=True)


def run_action(action: dict, *, case: Case, threshold: str, detail: str, now: datetime, out: Escalations) -> None:
    """Take one action; its result (or why it could not be taken) goes on the timeline."""
    kind = action["kind"]
    try:
        with transaction.atomic():  # a savepoint: a failed action leaves nothing half-done
            result = _run(kind, action, case=case, detail=detail, now=now, out=out)
    except DomainError as exc:
        result = f"not possible: {exc.message}"
    except Exception as exc:  # an action must never undo the firing it belongs to
        log.exception("escalation action %s failed on case %s", kind, case.pk)
        result = f"failed: {type(exc).__name__}"
    record(case=case, kind=CaseEvent.Kind.ESCALATION_ACTION, now=now, action=kind, threshold=threshold, result=result)


def _run(kind: str, action: dict, *, case: Case, detail: str, now: datetime, out: Escalations) -> str:
    if kind == NOTIFY:
        return out.email(case, detail=detail)
    if kind == "raise_priority":
        return _raise_priority(case, now)
    if kind == "move_to_queue":
        return _move(case, action["queue_id"], now)
    if kind == "reassign_to_lead":
        return _reassign(case, action.get("lead_id"), now)
    return f"unknown action {kind!r}"


def _raise_priority(case: Case, now: datetime) -> str:
    if case.priority <= 1:
        return "already urgent"
    old = case.priority
    case.priority = old - 1
    fields = {"priority": case.priority}
    if case.status == CaseStatus.QUEUED:
        from routing.ranking import rank_of

        case.route_rank = rank_of(case)
        fields["route_rank"] = case.route_rank
    Case.objects.filter(pk=case.pk).update(**fields)
    record(case=case, kind=CaseEvent.Kind.PRIORITY_CHANGED, now=now, old=old, new=case.priority, by="sla")
    return f"priority {old} → {case.priority}"


def _move(case: Case, queue_id: int, now: datetime) -> str:
    from routing.supervision import transfer_to_queue

    if case.queue_id == queue_id:
        return "already in the escalation queue"
    moved = transfer_to_queue(case_id=case.pk, queue_id=queue_id, now=now)
    case.queue_id, case.status, case.assignee_id = moved.queue_id, moved.status, moved.assignee_id
    return f"moved to queue {moved.queue.name}"


def _reassign(case: Case, lead_id: int | None, now: datetime) -> str:
    from routing.supervision import assign_case

    if lead_id is None and case.queue_id and case.queue.team_id:
        lead_id = (
            Agent.objects.filter(is_active=True, user__supervised_teams=case.queue.team_id)
            .order_by("pk")
            .values_list("pk", flat=True)
            .first()
        )
    if lead_id is None:
        return "no team lead to reassign to"
    if case.assignee_id == lead_id:
        return "already with the team lead"
    moved = assign_case(case_id=case.pk, agent_id=lead_id, now=now)
    case.status, case.assignee_id = moved.status, moved.assignee_id
    return f"reassigned to agent {lead_id}"
