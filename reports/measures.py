"""Case figures of one hour: arrivals, re-opens, first and next response,
resolution, handle time, SLA attainment, abandonment, transfers and the
reaction time to public social posts (docs/reports.md)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Q

from cases.models import HELD_STATUSES, Case, CaseEvent, Message
from reports.facts import CaseContext, Facts, contexts
from sla.calendars import schedule_for
from sla.core.hours import business_time_between

K = CaseEvent.Kind
# Timeline entries that start or end an agent's hold on a case.
HOLD_KINDS = (K.ASSIGNED, K.RESOLVED, K.TRANSFERRED, K.RETURNED, K.CLOSED)


def _seconds(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds())


def _business(ctx: CaseContext, a: datetime, b: datetime) -> float:
    """Seconds from a to b counted in the business hours of the case's SLA
    policy (its first clock's calendar); around the clock without one."""
    if ctx.calendar_id is None:
        return _seconds(a, b)
    return business_time_between(schedule_for(ctx.calendar_id), a, b).total_seconds()


def _in(start: datetime, end: datetime) -> dict:
    return {"created_at__gte": start, "created_at__lt": end}


def add_case_facts(facts: Facts, start: datetime, end: datetime) -> None:
    created = list(Case.objects.filter(**_in(start, end)).values_list("pk", flat=True))
    events = list(
        CaseEvent.objects.filter(
            **_in(start, end),
            kind__in=[K.REOPENED, K.RESOLVED, K.WRAP_UP, K.CLOSED, K.TRANSFERRED, K.REASSIGNED, K.ASSIGNED, K.RETURNED],
        ).values_list("case_id", "kind", "agent_id", "data", "created_at")
    )
    answered = list(
        Case.objects.filter(first_response_at__gte=start, first_response_at__lt=end).values_list(
            "pk", "created_at", "first_response_at"
        )
    )
    replies = list(
        Message.objects.filter(
            **_in(start, end), direction=Message.Direction.OUTBOUND, author_agent__isnull=False
        ).values_list("pk", "case_id", "author_agent_id", "created_at")
    )
    ids = {*created, *(e[0] for e in events), *(a[0] for a in answered), *(r[1] for r in replies)}
    ctx = contexts(ids)
    for pk in created:
        facts.add(ctx[pk], cases_created=1)
    _responses(facts, ctx, answered, replies)
    _resolutions(facts, ctx, events)
    _holds(facts, start, end)
    _sla(facts, start, end)
    _abandoned(facts, start, end, ctx)
    _social(facts, start, end)


def _responses(facts: Facts, ctx: dict[int, CaseContext], answered: list, replies: list) -> None:
    """First response: case created → its first reply (counted once per case,
    re-opened or not). Next response: the customer's first message after our
    previous reply → our next reply."""
    case_ids = {a[0] for a in answered} | {r[1] for r in replies}
    last_reply = max((r[3] for r in replies), default=None)
    by_case: dict[int, list] = defaultdict(list)
    if case_ids:
        # The customer's messages and our agents' replies (not automatic
        # messages such as a satisfaction survey).
        rows = Message.objects.filter(
            Q(direction=Message.Direction.INBOUND)
            | Q(direction=Message.Direction.OUTBOUND, author_agent__isnull=False),
            case_id__in=case_ids,
        )
        if last_reply is not None:
            rows = rows.filter(created_at__lte=last_reply)
        for row in rows.order_by("case_id", "created_at", "pk").values_list(
            "pk", "case_id", "direction", "author_agent_id", "created_at"
        ):
            by_case[row[1]].append(row)
    for pk, created_at, first_at in answered:
        first_out = next((m for m in by_case[pk] if m[2] == Message.Direction.OUTBOUND), None)
        c = ctx[pk]
        facts.add(
            c,
            first_out[3] if first_out else None,
            first_response_count=1,
            first_response_seconds=_seconds(created_at, first_at),
            first_response_business_seconds=_business(c, created_at, first_at),
        )
    for pk, case_id, agent_id, at in replies:
        waiting_since, seen_reply = None, False
        for message_id, _case, direction, _author, when in by_case[case_id]:
            if message_id == pk:
                break
            if direction == Message.Direction.OUTBOUND:
                waiting_since, seen_reply = None, True
            elif waiting_since is None:
                waiting_since = when
        if not seen_reply or waiting_since is None:
            continue  # the case's first reply, or a reply nobody was waiting for
        c = ctx[case_id]
        facts.add(
            c,
            agent_id,
            next_response_count=1,
            next_response_seconds=_seconds(waiting_since, at),
            next_response_business_seconds=_business(c, waiting_since, at),
        )


def _resolutions(facts: Facts, ctx: dict[int, CaseContext], events: list) -> None:
    """Resolution: created (or last re-opened) → resolved; a case resolved
    with wrap-up is resolved when wrap-up starts. Transfers: moved to
    another queue or reassigned by a supervisor (the agent who held it is
    counted in ``_holds``)."""
    resolved = [
        e for e in events if e[1] == K.WRAP_UP or (e[1] == K.RESOLVED and not (e[3] or {}).get("wrap_up_ended"))
    ]
    starts: dict[int, list[datetime]] = defaultdict(list)
    if resolved:
        ids = {e[0] for e in resolved}
        for pk, at in Case.objects.filter(pk__in=ids).values_list("pk", "created_at"):
            starts[pk].append(at)
        for pk, at in CaseEvent.objects.filter(case_id__in=ids, kind=K.REOPENED).values_list("case_id", "created_at"):
            starts[pk].append(at)
    for case_id, kind, *_rest in events:
        if kind == K.REOPENED:
            facts.add(ctx[case_id], reopened=1)
        elif kind in (K.TRANSFERRED, K.REASSIGNED):
            facts.add(ctx[case_id], transfers=1)
    for case_id, _kind, agent_id, _data, at in resolved:
        c = ctx[case_id]
        since = max((s for s in starts[case_id] if s <= at), default=at)
        facts.add(
            c,
            agent_id,
            resolution_count=1,
            resolution_seconds=_seconds(since, at),
            resolution_business_seconds=_business(c, since, at),
        )


def hold_spans(start: datetime, end: datetime) -> list[tuple[int, int, datetime, datetime | None, str]]:
    """(case, agent, from, to, what ended it) of every hold that overlaps
    [start, end): from an assignment to the resolution (after wrap-up), a
    transfer, a return to the queue or the next assignment (a reassignment);
    ``to`` None while still held."""
    recent = CaseEvent.objects.filter(kind__in=HOLD_KINDS, created_at__gte=start).values_list("case_id", flat=True)
    held = Case.objects.filter(status__in=HELD_STATUSES).values_list("pk", flat=True)  # holds still open
    ids = set(recent) | set(held)
    spans = []
    holder: dict[int, tuple[int, datetime]] = {}
    rows = CaseEvent.objects.filter(case_id__in=ids, kind__in=HOLD_KINDS, created_at__lt=end)
    for case_id, kind, agent_id, at in rows.order_by("case_id", "created_at", "pk").values_list(
        "case_id", "kind", "agent_id", "created_at"
    ):
        current = holder.pop(case_id, None)
        if current is not None:
            spans.append((case_id, current[0], current[1], at, kind))
        if kind == K.ASSIGNED and agent_id is not None:
            holder[case_id] = (agent_id, at)
    spans += [(case_id, agent_id, since, None, "") for case_id, (agent_id, since) in holder.items()]
    return [s for s in spans if (s[3] is None or s[3] > start) and s[2] < end]


def _holds(facts: Facts, start: datetime, end: datetime) -> None:
    """Handle time: a hold's length, counted in the hour it ends. Busy time:
    the part of the hour an agent held at least one case. A transfer or a
    reassignment counts for the agent who held the case."""
    spans = hold_spans(start, end)
    ctx = contexts({s[0] for s in spans})
    busy: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for case_id, agent_id, since, until, ended_by in spans:
        if until is not None and start <= until < end:
            c = ctx[case_id]
            facts.add(c, agent_id, handle_count=1, handle_seconds=_seconds(since, until))
            if ended_by in (K.TRANSFERRED, K.ASSIGNED):
                facts.put("agent", str(agent_id), c.team_id, transfers=1)
        busy[agent_id].append((max(since, start), min(until or end, end)))
    for agent_id, parts in busy.items():
        total, reach = 0.0, start
        for a, b in sorted(parts):
            a = max(a, reach)
            if b > a:
                total += _seconds(a, b)
                reach = b
        facts.put("agent", str(agent_id), 0, busy_seconds=total)


def _sla(facts: Facts, start: datetime, end: datetime) -> None:
    """SLA attainment: targets met (answered or resolved in time) and
    breached, in the hour they were met or breached, per policy and target."""
    from sla.models import Clock

    met = Clock.objects.filter(status=Clock.Status.MET, stopped_at__gte=start, stopped_at__lt=end)
    breached = Clock.objects.filter(breached_at__gte=start, breached_at__lt=end)
    rows = [(r, "sla_met") for r in met.values_list("case_id", "revision__policy_id", "target")]
    rows += [(r, "sla_breached") for r in breached.values_list("case_id", "revision__policy_id", "target")]
    ctx = contexts({r[0][0] for r in rows})
    for (case_id, policy_id, target), name in rows:
        c = ctx[case_id]
        facts.add(c, **{name: 1})
        facts.put("sla", f"{policy_id}:{target}", c.team_id, **{name: 1})


def _abandoned(facts: Facts, start: datetime, end: datetime, ctx: dict[int, CaseContext]) -> None:
    """Abandoned: a call that ended unanswered (missed, abandoned, voicemail),
    and a web chat resolved or closed before any reply."""
    from calls.models import CallSession

    calls = CallSession.objects.filter(
        ended_at__gte=start, ended_at__lt=end, answered_at__isnull=True, direction="inbound"
    ).values_list("case_id", flat=True)
    chats = (
        CaseEvent.objects.filter(
            **_in(start, end),
            kind__in=[K.RESOLVED, K.WRAP_UP, K.CLOSED],
            case__channel_kind="web_chat",
            case__first_response_at__isnull=True,
        )
        .values_list("case_id", flat=True)
        .distinct()
    )
    ids = [*calls, *chats]
    more = contexts(set(ids) - set(ctx))
    for case_id in ids:
        facts.add(ctx.get(case_id) or more[case_id], abandoned=1)


def _social(facts: Facts, start: datetime, end: datetime) -> None:
    """Reaction time: a public social post → our first answer, public or
    private, as the connectors record it on the first reply."""
    rows = list(
        CaseEvent.objects.filter(**_in(start, end), kind=K.REPLY_SENT, data__has_key="reaction_seconds").values_list(
            "case_id", "agent_id", "data"
        )
    )
    ctx = contexts({r[0] for r in rows})
    for case_id, agent_id, data in rows:
        facts.add(
            ctx[case_id], agent_id, social_reaction_count=1, social_reaction_seconds=float(data["reaction_seconds"])
        )
