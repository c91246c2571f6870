"""Reads the router, pages and the API share: agents' routing state, loads,
queues, and the demands of waiting cases — each loaded in a few queries,
whatever the number of agents or cases."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, Q, Sum

from agents.models import Agent, AgentCapacity, AgentSkill
from cases.models import HELD_STATUSES, Case, CaseSkill, CaseStatus, Customer
from routing.core import AgentState, CaseDemand, Selection
from routing.models import Offer, Queue, RoutingSettings


@dataclass(frozen=True, slots=True)
class QueueInfo:
    queue_id: int
    priority: int
    team_id: int | None
    open_to_all: bool  # no team and no direct members: every agent serves it
    selection: Selection
    continuity_minutes: int
    offer_timeout_seconds: int
    auto_accept: bool
    auto_accept_channel_kinds: frozenset[str]

    def auto_accepts(self, channel_kind: str) -> bool:
        return self.auto_accept or channel_kind in self.auto_accept_channel_kinds


def queues() -> dict[int, QueueInfo]:
    rows = Queue.objects.annotate(direct=Count("agents")).values(
        "pk",
        "priority",
        "team_id",
        "direct",
        "agent_selection",
        "continuity_minutes",
        "offer_timeout_seconds",
        "auto_accept",
        "auto_accept_channel_kinds",
    )
    return {
        row["pk"]: QueueInfo(
            queue_id=row["pk"],
            priority=row["priority"],
            team_id=row["team_id"],
            open_to_all=row["team_id"] is None and row["direct"] == 0,
            selection=Selection(row["agent_selection"]),
            continuity_minutes=row["continuity_minutes"],
            offer_timeout_seconds=row["offer_timeout_seconds"],
            auto_accept=row["auto_accept"],
            auto_accept_channel_kinds=frozenset(row["auto_accept_channel_kinds"] or ()),
        )
        for row in rows
    }


# --- Agents ---------------------------------------------------------------------


def routable_agent_ids(now: datetime, agent_ids: Iterable[int] | None = None) -> list[int]:
    """Agents present now in a status that enables at least one channel kind."""
    qs = Agent.objects.filter(is_active=True, present_until__gt=now, status__isnull=False)
    if agent_ids is not None:
        qs = qs.filter(pk__in=list(agent_ids))
    return [pk for pk, kinds in qs.values_list("pk", "status__channel_kinds") if kinds]


def agent_loads(agent_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Units each agent holds per channel kind: cases it is assigned (also
    while waiting on the customer and in wrap-up) plus offers it has pending."""
    ids = list(agent_ids)
    loads: dict[int, dict[str, int]] = defaultdict(dict)
    if not ids:
        return loads
    held = (
        Case.objects.filter(assignee_id__in=ids, status__in=HELD_STATUSES)
        .values("assignee_id", "channel_kind")
        .annotate(units=Sum("units"))
    )
    for row in held:
        load = loads[row["assignee_id"]]
        load[row["channel_kind"]] = load.get(row["channel_kind"], 0) + row["units"]
    offered = (
        Offer.objects.filter(agent_id__in=ids, status=Offer.Status.PENDING)
        .values("agent_id", "channel_kind")
        .annotate(units=Sum("units"))
    )
    for row in offered:
        load = loads[row["agent_id"]]
        load[row["channel_kind"]] = load.get(row["channel_kind"], 0) + row["units"]
    return loads


def _open_cases(ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = defaultdict(int)
    for agent_id, n in (
        Case.objects.filter(assignee_id__in=ids, status__in=HELD_STATUSES)
        .values_list("assignee_id")
        .annotate(n=Count("id"))
    ):
        counts[agent_id] += n
    for agent_id, n in (
        Offer.objects.filter(agent_id__in=ids, status=Offer.Status.PENDING)
        .values_list("agent_id")
        .annotate(n=Count("id"))
    ):
        counts[agent_id] += n
    return counts


def recent_assignments(ids: list[int], since: datetime) -> dict[int, int]:
    """Offers made to (and cases assigned to) each agent since ``since``,
    for fair distribution; declined and missed offers do not count."""
    rows = (
        Offer.objects.filter(agent_id__in=ids, created_at__gte=since)
        .filter(status__in=[Offer.Status.PENDING, Offer.Status.ACCEPTED])
        .values_list("agent_id")
        .annotate(n=Count("id"))
    )
    return dict(rows)


def agent_states(
    now: datetime, agent_ids: Iterable[int] | None = None, *, settings: RoutingSettings | None = None
) -> list[AgentState]:
    """The routing state of every routable agent (or of these agents, when
    they are routable): six queries, whatever the number of agents."""
    ids = routable_agent_ids(now, agent_ids)
    if not ids:
        return []
    settings = settings or RoutingSettings.current()
    agents = {
        row["pk"]: row
        for row in Agent.objects.filter(pk__in=ids).values(
            "pk", "capacity_total", "idle_since", "status_since", "status__channel_kinds"
        )
    }
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, name, level in AgentSkill.objects.filter(agent_id__in=ids).values_list(
        "agent_id", "skill__name", "proficiency"
    ):
        skills[agent_id][name] = level
    capacity: dict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, kind, units in AgentCapacity.objects.filter(agent_id__in=ids).values_list(
        "agent_id", "channel_kind", "units"
    ):
        capacity[agent_id][kind] = units
    teams: dict[int, set[int]] = defaultdict(set)
    for agent_id, team_id in Agent.teams.through.objects.filter(agent_id__in=ids).values_list("agent_id", "team_id"):
        teams[agent_id].add(team_id)
    direct: dict[int, set[int]] = defaultdict(set)
    for agent_id, queue_id in Queue.agents.through.objects.filter(agent_id__in=ids).values_list("agent_id", "queue_id"):
        direct[agent_id].add(queue_id)
    loads = agent_loads(ids)
    open_cases = _open_cases(ids)
    recent: dict[int, int] = {}
    if settings.fair_cap_assignments:
        recent = recent_assignments(ids, now - timedelta(minutes=settings.fair_cap_window_minutes))
    states = []
    for pk in ids:
        row = agents[pk]
        idle = row["idle_since"] or row["status_since"]
        states.append(
            AgentState(
                agent_id=pk,
                channel_kinds=frozenset(row["status__channel_kinds"] or ()),
                capacity=capacity.get(pk, {}),
                capacity_total=row["capacity_total"],
                load=loads.get(pk, {}),
                open_cases=open_cases.get(pk, 0),
                skills=skills.get(pk, {}),
                queue_ids=frozenset(direct.get(pk, ())),
                team_ids=frozenset(teams.get(pk, ())),
                idle_since=idle.timestamp() if idle else 0.0,
                recent_assignments=recent.get(pk, 0),
            )
        )
    return states


# --- Cases ----------------------------------------------------------------------


def refused_by(case_ids: Sequence[int]) -> dict[int, set[int]]:
    """Agents who declined or let each case's offer time out."""
    out: dict[int, set[int]] = defaultdict(set)
    for case_id, agent_id in Offer.objects.filter(
        case_id__in=case_ids, status__in=[Offer.Status.DECLINED, Offer.Status.TIMED_OUT]
    ).values_list("case_id", "agent_id"):
        out[case_id].add(agent_id)
    return out


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
    settings = settings or RoutingSettings.current()
    ids = [case.pk for case in cases]
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    for case_id, name, minimum in CaseSkill.objects.filter(case_id__in=ids).values_list(
        "case_id", "skill__name", "min_proficiency"
    ):
        skills[case_id][name] = minimum
    refused = refused_by(ids)
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


def waiting_case_ids(*, limit: int) -> list[int]:
    """Queued cases, most urgent first."""
    return list(
        Case.objects.filter(status=CaseStatus.QUEUED).order_by("route_rank", "pk").values_list("pk", flat=True)[:limit]
    )


def queue_position(case: Case, now: datetime) -> dict:
    """Where a waiting case stands in its queue, and a wait estimate from the
    queue's pace over the last hour (None until there is a pace to go by)."""
    if case.status != CaseStatus.QUEUED or case.route_rank is None:
        return {"position": None, "estimated_wait_seconds": None, "status": case.status}
    ahead = (
        Case.objects.filter(status=CaseStatus.QUEUED, queue_id=case.queue_id)
        .filter(Q(route_rank__lt=case.route_rank) | Q(route_rank=case.route_rank, pk__lt=case.pk))
        .count()
    )
    hour_ago = now - timedelta(hours=1)
    served = (
        Offer.objects.filter(case__queue_id=case.queue_id, created_at__gte=hour_ago)
        .filter(status__in=[Offer.Status.PENDING, Offer.Status.ACCEPTED])
        .aggregate(n=Count("case_id", distinct=True), last=Max("created_at"))
    )
    estimate = None
    if served["n"]:
        estimate = round((ahead + 1) * 3600 / served["n"])
    return {"position": ahead + 1, "estimated_wait_seconds": estimate, "status": case.status}


def pending_offers_for(agent: Agent) -> list[Offer]:
    return list(
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
        .select_related("case__customer", "case__queue")
        .order_by("created_at")
    )


def customer_tiers(customer_ids: Iterable[int]) -> dict[int, str]:
    return dict(Customer.objects.filter(pk__in=list(customer_ids)).values_list("pk", "tier"))
