"""What each waiting case asks of an agent (``routing.core.CaseDemand``):
required skills, who may serve it, who refused it, continuity, read for a
whole batch in a few queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Q

from cases.models import Case, CaseSkill
from routing.bulk import among, fast_cursor
from routing.core import CaseDemand, Selection
from routing.models import Offer, RoutingSettings
from routing.queue_settings import QueueInfo, queues, routing_settings


def refused_by(case_ids: Sequence[int]) -> dict[int, set[int]]:
    """Agents who declined or let each case's offer time out."""
    out: dict[int, set[int]] = defaultdict(set)
    for case_id, agent_id in Offer.objects.filter(
        case_id__in=case_ids, status__in=[Offer.Status.DECLINED, Offer.Status.TIMED_OUT]
    ).values_list("case_id", "agent_id"):
        out[case_id].add(agent_id)
    return out


def _case_facts(ids: list[int]) -> tuple[dict[int, dict[str, int]], dict[int, set[int]]]:
    """The cases' required skills (name -> minimum) and the agents who
    declined them or let their offers time out, in one query."""

    skills: dict[int, dict[str, int]] = defaultdict(dict)
    refused: dict[int, set[int]] = defaultdict(set)
    skill = CaseSkill._meta.get_field("skill").related_model._meta.db_table
    by_case, one = among("case_id", ids)
    # Table names come from the models; every value is a parameter.
    sql = f"""
        SELECT 1, c.case_id, k.name, c.min_proficiency FROM {CaseSkill._meta.db_table} c
          JOIN {skill} k ON k.id = c.skill_id WHERE c.{by_case}
        UNION ALL
        SELECT 2, case_id, '', agent_id FROM {Offer._meta.db_table} WHERE {by_case} AND status IN (%s, %s)
    """  # noqa: S608
    with fast_cursor() as cursor:
        cursor.execute(sql, [*one, *one, Offer.Status.DECLINED, Offer.Status.TIMED_OUT])
        for tag, case_id, name, value in cursor.fetchall():
            if tag == 1:
                skills[case_id][name] = value
            else:
                refused[case_id].add(value)
    return skills, refused


def recent_agents(cases: Sequence[Case], queue_info: dict[int, QueueInfo], now: datetime) -> dict[int, int]:
    """Continuity: for each case whose queue asks for it, the agent who last
    served the same customer within the queue's window (case id -> agent id)."""
    windows = {
        case.pk: queue_info[case.queue_id].continuity_minutes
        for case in cases
        if case.queue_id in queue_info and queue_info[case.queue_id].continuity_minutes
    }
    if not windows:
        return {}
    longest = max(windows.values())
    customers = {case.customer_id for case in cases if case.pk in windows}
    last: dict[int, tuple[datetime, int]] = {}
    rows = (
        Case.objects.filter(customer_id__in=customers, assignee__isnull=False)
        .filter(Q(resolved_at__gte=now - timedelta(minutes=longest)) | Q(resolved_at__isnull=True))
        .exclude(pk__in=list(windows))
        .values_list("customer_id", "assignee_id", "resolved_at")
    )
    for customer_id, agent_id, resolved_at in rows:
        when = resolved_at or now
        if customer_id not in last or when > last[customer_id][0]:
            last[customer_id] = (when, agent_id)
    out = {}
    for case in cases:
        window = windows.get(case.pk)
        found = last.get(case.customer_id)
        if window and found and found[0] >= now - timedelta(minutes=window):
            out[case.pk] = found[1]
    return out


def case_demands(
    cases: Sequence[Case],
    now: datetime,
    *,
    queue_info: dict[int, QueueInfo] | None = None,
    settings: RoutingSettings | None = None,
) -> list[CaseDemand]:
    """What each case asks of an agent, in four queries for the whole batch."""
    if not cases:
        return []
    queue_info = queue_info if queue_info is not None else queues()
    settings = settings or routing_settings()
    skills, refused = _case_facts([case.pk for case in cases])
    preferred = recent_agents(cases, queue_info, now)
    fair_cap = settings.fair_cap_assignments or None
    demands = []
    for case in cases:
        info = queue_info.get(case.queue_id) if case.queue_id else None
        scope = case.overflow or {}
        queue_ids = {case.queue_id} if case.queue_id else set()
        team_ids = {info.team_id} if info and info.team_id else set()
        open_to_all = info is None or info.open_to_all or bool(scope.get("anyone"))
        for other in scope.get("queues", ()):
            queue_ids.add(other)
            other_info = queue_info.get(other)
            if other_info is not None:
                if other_info.team_id:
                    team_ids.add(other_info.team_id)
                open_to_all = open_to_all or other_info.open_to_all
        team_ids.update(scope.get("teams", ()))
        demands.append(
            CaseDemand(
                case_id=case.pk,
                channel_kind=case.channel_kind,
                required_skills=skills.get(case.pk, {}),
                queue_ids=frozenset(queue_ids),
                team_ids=frozenset(team_ids),
                open_to_all=open_to_all,
                units=case.units,
                may_interrupt=case.may_interrupt,
                excluded_agents=frozenset(refused.get(case.pk, set()) | set(scope.get("excluded", ()))),
                preferred_agent_id=preferred.get(case.pk),
                selection=info.selection if info else Selection.MOST_AVAILABLE,
                fair_cap=fair_cap,
                rank=case.route_rank.timestamp() if case.route_rank else 0.0,
            )
        )
    return demands
