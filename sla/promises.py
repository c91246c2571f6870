"""Promises (follow-ups) an agent makes to a customer: record, keep, cancel,
and the scan that reminds the agent before one is due and escalates a missed
one like an SLA breach. Firing is exactly once, as the SLA scan: the case is
locked with ``SKIP LOCKED`` and the mark is written with the effects."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from agents.models import Agent
from cases.models import Case, CaseEvent
from cases.services import record
from config.api import DomainError, Invalid, NotFound
from config.channel_kinds import ChannelKind
from config.events import publish_many_on_commit
from sla.escalation import Escalations
from sla.events import PromiseReminded
from sla.models import Promise

MAX_NOTE = 2000


class PromiseClosed(DomainError):
    code = "promise_closed"


def reminder_lead() -> timedelta:
    return timedelta(minutes=settings.SWITCHBOARD.get("PROMISE_REMINDER_MINUTES", 15))


def make_promise(
    *, case_id: int, agent: Agent | None, due_at: datetime, channel_kind: str, note: str, now: datetime, actor=None
) -> Promise:
    if due_at <= now:
        raise Invalid("a promise must be due in the future")
    if channel_kind not in ChannelKind.values:
        raise Invalid(f"channel_kind must be one of: {', '.join(ChannelKind.values)}")
    if len(note or "") > MAX_NOTE:
        raise Invalid(f"a note is limited to {MAX_NOTE} characters")
    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")
        promise = Promise.objects.create(
            case=case,
            customer_id=case.customer_id,
            agent=agent,
            due_at=due_at,
            remind_at=max(now, due_at - reminder_lead()),
            channel_kind=channel_kind,
            note=note or "",
            created_at=now,
        )
        record(
            case=case,
            kind=CaseEvent.Kind.PROMISE_SET,
            now=now,
            agent=agent,
            actor=actor,
            promise_id=promise.pk,
            due_at=due_at.isoformat(),
            channel_kind=channel_kind,
        )
    return promise


def close_promise(*, promise_id: int, kept: bool, now: datetime, agent: Agent | None = None, actor=None) -> Promise:
    """Mark a promise kept (done), or cancelled. A missed promise kept late is kept."""
    with transaction.atomic():
        case_id = Promise.objects.filter(pk=promise_id).values_list("case_id", flat=True).first()
        if case_id is None:
            raise NotFound(f"no promise {promise_id}")
        case = Case.objects.select_for_update().get(pk=case_id)
        promise = Promise.objects.select_for_update().get(pk=promise_id)
        if promise.status not in (Promise.Status.OPEN, Promise.Status.MISSED) or (
            not kept and promise.status != Promise.Status.OPEN
        ):
            raise PromiseClosed(f"promise {promise_id} is {promise.status}")
        if kept:
            promise.status = Promise.Status.KEPT
            promise.kept_at = now
            record(
                case=case, kind=CaseEvent.Kind.PROMISE_KEPT, now=now, agent=agent, actor=actor, promise_id=promise.pk
            )
        else:
            promise.status = Promise.Status.CANCELLED
        promise.save(update_fields=["status", "kept_at"])
    return promise


def scan_promises(*, now: datetime, limit: int = 500) -> tuple[int, int]:
    """Remind agents of promises due soon, escalate missed ones. Returns (reminded, missed)."""
    reminded = missed = 0
    with transaction.atomic():
        due = list(
            Promise.objects.filter(status=Promise.Status.OPEN, due_at__lte=now).values_list("case_id", flat=True)[
                :limit
            ]
        )
        soon = list(
            Promise.objects.filter(
                status=Promise.Status.OPEN, reminded_at__isnull=True, remind_at__lte=now
            ).values_list("case_id", flat=True)[:limit]
        )
        ids = list(dict.fromkeys(due + soon))
        if not ids:
            return 0, 0
        cases = {
            c.pk: c
            for c in Case.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("queue", "queue__team")
            .filter(pk__in=ids)
        }
        promises = list(
            Promise.objects.select_for_update(of=("self",))
            .filter(case_id__in=list(cases), status=Promise.Status.OPEN, remind_at__lte=now)
            .order_by("pk")
        )
        out = Escalations()
        reminders = []
        for promise in promises:
            case = cases[promise.case_id]
            fields = []
            if promise.reminded_at is None:
                promise.reminded_at = now
                fields.append("reminded_at")
                reminded += 1
                record(
                    case=case,
                    kind=CaseEvent.Kind.PROMISE_REMINDED,
                    now=now,
                    agent_id=promise.agent_id,
                    promise_id=promise.pk,
                )
                reminders.append(
                    PromiseReminded(
                        promise_id=promise.pk,
                        case_id=case.pk,
                        agent_id=promise.agent_id,
                        due_at=promise.due_at.isoformat(),
                    )
                )
            if promise.due_at <= now:
                promise.status = Promise.Status.MISSED
                promise.missed_at = now
                fields += ["status", "missed_at"]
                missed += 1
                detail = f"Promise missed (was due {promise.due_at:%Y-%m-%d %H:%M} UTC)"
                record(
                    case=case,
                    kind=CaseEvent.Kind.PROMISE_MISSED,
                    now=now,
                    agent_id=promise.agent_id,
                    promise_id=promise.pk,
                )
                out.feed(case, kind="promise_missed", detail=detail)
                out.email(case, detail=detail)
            promise.save(update_fields=fields)
        publish_many_on_commit(reminders)
        out.send_on_commit()
    return reminded, missed
