"""Reads the router, pages and the API share: agents' routing state and loads."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch

from agents.models import Agent, AgentCapacity, AgentSkill
from cases.models import HELD_STATUSES, Case, CaseStatus
from routing.core import AgentState, CaseDemand
from routing.models import Offer, Queue


@dataclass(frozen=True, slots=True)
class QueueMembers:
    queue_id: int | None
    agent_ids: frozenset[int]
    open_to_all: bool


def queue_members(queue: Queue | None) -> QueueMembers:
    """Who serves a queue: its direct members and its team's agents. A queue
    with neither (or no queue at all) is served by every agent."""
    if queue is None:
        return QueueMembers(queue_id=None, agent_ids=frozenset(), open_to_all=True)
    direct = set(queue.agents.values_list("pk", flat=True))
    team = set(Agent.objects.filter(teams=queue.team_id).values_list("pk", flat=True)) if queue.team_id else set()
    return QueueMembers(
        queue_id=queue.pk, agent_ids=frozenset(direct | team), open_to_all=not direct and queue.team_id is None
    )


def routable_agents(now: datetime, agent_ids: Iterable[int] | None = None) -> list[Agent]:
    """Agents present now in a status that enables at least one channel kind."""
    qs = (
        Agent.objects.filter(is_active=True, present_until__gt=now, status__isnull=False)
        .select_related("status")
        .prefetch_related(
            Prefetch("skills", queryset=AgentSkill.objects.select_related("skill")),
            Prefetch("capacities", queryset=AgentCapacity.objects.all()),
        )
    )
    if agent_ids is not None:
        qs = qs.filter(pk__in=list(agent_ids))
    return [agent for agent in qs if agent.status.channel_kinds]


def agent_loads(agent_ids: Iterable[int]) -> dict[int, Counter]:
    """Units of work each agent holds per channel kind: cases it is assigned
    (also while waiting on the customer) plus offers it has pending."""
    ids = list(agent_ids)
    loads: dict[int, Counter] = defaultdict(Counter)
    if not ids:
        return loads
    held = (
        Case.objects.filter(assignee_id__in=ids, status__in=HELD_STATUSES)
        .values("assignee_id", "channel_kind")
        .annotate(n=Count("id"))
    )
    for row in held:
        loads[row["assignee_id"]][row["channel_kind"]] += row["n"]
    offered = (
        Offer.objects.filter(agent_id__in=ids, status=Offer.Status.PENDING)
        .values("agent_id", "channel_kind")
        .annotate(n=Count("id"))
    )
    for row in offered:
        loads[row["agent_id"]][row["channel_kind"]] += row["n"]
    return loads


def agent_state(agent: Agent, load: Counter, members: QueueMembers, now: datetime) -> AgentState:
    capacities = {c.channel_kind: c.units for c in agent.capacities.all()}
    total_load = sum(load.values())
    present = agent.is_present(now) and agent.status is not None
    idle_since = agent.idle_since or agent.status_since
    return AgentState(
        agent_id=agent.pk,
        channel_kinds=frozenset(agent.status.channel_kinds) if present else frozenset(),
        free_units={kind: units - load.get(kind, 0) for kind, units in capacities.items()},
        free_total=agent.capacity_total - total_load,
        open_cases=total_load,
        skills={s.skill.name: s.proficiency for s in agent.skills.all()},
        queue_ids=frozenset([members.queue_id]) if agent.pk in members.agent_ids else frozenset(),
        idle_since=idle_since.timestamp() if idle_since else 0.0,
    )


def case_demand(case: Case, members: QueueMembers, excluded: Iterable[int] = ()) -> CaseDemand:
    return CaseDemand(
        case_id=case.pk,
        channel_kind=case.channel_kind,
        required_skills={cs.skill.name: cs.min_proficiency for cs in case.required_skills.select_related("skill")},
        queue_id=case.queue_id,
        queue_open_to_all=members.open_to_all,
        excluded_agents=frozenset(excluded),
        queue_priority=case.queue.priority if case.queue_id else 3,
        priority=case.priority,
        vip=case.customer.tier == "vip",
        waiting_since=case.queued_at.timestamp() if case.queued_at else 0.0,
    )


def agents_who_refused(case_id: int) -> set[int]:
    return set(
        Offer.objects.filter(case_id=case_id, status__in=[Offer.Status.DECLINED, Offer.Status.TIMED_OUT]).values_list(
            "agent_id", flat=True
        )
    )


def waiting_case_ids(*, limit: int) -> list[int]:
    """Queued cases, most urgent first."""
    return list(
        Case.objects.filter(status=CaseStatus.QUEUED)
        .order_by("queue__priority", "priority", "queued_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def pending_offers_for(agent: Agent) -> list[Offer]:
    return list(
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
        .select_related("case__customer", "case__queue")
        .order_by("created_at")
    )
