"""Pure entry points the what-if simulator (``simulation/``) needs besides
``choose``: the other direction of routing (an agent that gained room takes
the most urgent waiting case it may take), overflow steps applied to a
demand, and an agent's state after work is handed out or given back.

The router does the same through the database (``routing.batch.route_agent``,
``routing.overflow.take_step``, ``routing.demands.case_demands``); these are the
same rules on plain data, deciding with ``exclusion_reason`` and ranks from
``routing.core.rank``, so a simulation routes as the router does.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

from routing.core import exclusion_reason
from routing.core.state import AgentState, CaseDemand

LOWER_PROFICIENCY = "lower_proficiency"
DROP_OPTIONAL_SKILLS = "drop_optional_skills"
ADD_QUEUE = "add_queue"
ADD_TEAM = "add_team"
ANYONE = "anyone"


@dataclass(frozen=True, slots=True)
class Widening:
    """One overflow step of a queue (``routing.models.OverflowStep``) as plain data."""

    after_seconds: float
    action: str
    amount: int = 1
    target_queue_id: int | None = None
    target_team_id: int | None = None  # for ADD_TEAM; for ADD_QUEUE, the target queue's team
    target_open_to_all: bool = False  # ADD_QUEUE: the target queue has no team and no members


def widen(demand: CaseDemand, step: Widening, optional: frozenset[str]) -> tuple[CaseDemand, frozenset[str]]:
    """The demand after one overflow step, and the skills still optional.
    As ``routing.overflow.take_step`` followed by ``routing.demands.case_demands``."""
    if step.action == LOWER_PROFICIENCY:
        skills = {
            name: max(1, minimum - step.amount) if name in optional else minimum
            for name, minimum in demand.required_skills.items()
        }
        return replace(demand, required_skills=skills), optional
    if step.action == DROP_OPTIONAL_SKILLS:
        skills = {name: minimum for name, minimum in demand.required_skills.items() if name not in optional}
        return replace(demand, required_skills=skills), frozenset()
    if step.action == ADD_QUEUE:
        teams = demand.team_ids | ({step.target_team_id} if step.target_team_id else frozenset())
        return (
            replace(
                demand,
                queue_ids=demand.queue_ids | {cast(int, step.target_queue_id)},  # ADD_QUEUE names one
                team_ids=teams,
                open_to_all=demand.open_to_all or step.target_open_to_all,
            ),
            optional,
        )
    if step.action == ADD_TEAM:
        return replace(
            demand, team_ids=demand.team_ids | {cast(int, step.target_team_id)}
        ), optional  # ADD_TEAM names one
    if step.action == ANYONE:
        return replace(demand, open_to_all=True), optional
    raise ValueError(f"unknown overflow action {step.action!r}")


def given(agent: AgentState, kind: str, units: int, now: float) -> AgentState:
    """The agent after it was offered or assigned a case at ``now`` (its
    ``last_routed_at`` is now, which is where idle time counts from)."""
    load = dict(agent.load)
    load[kind] = load.get(kind, 0) + units
    return _with(agent, load, agent.open_cases + 1, agent.recent_assignments + 1, now)


def given_back(agent: AgentState, kind: str, units: int, now: float) -> AgentState:
    """The agent after a case's units came back (resolved after wrap-up, or
    an offer declined); idle from now when no work is left."""
    load = dict(agent.load)
    load[kind] = load.get(kind, 0) - units
    open_cases = agent.open_cases - 1
    idle = now if open_cases == 0 else agent.idle_since
    return _with(agent, load, open_cases, agent.recent_assignments, idle)


def _with(agent: AgentState, load: dict[str, int], open_cases: int, recent: int, idle_since: float) -> AgentState:
    # Spelled out rather than ``dataclasses.replace``: this runs for every
    # offer and every release of a simulated day, and replace is slow.
    return AgentState(
        agent_id=agent.agent_id,
        channel_kinds=agent.channel_kinds,
        capacity=agent.capacity,
        capacity_total=agent.capacity_total,
        load=load,
        open_cases=open_cases,
        skills=agent.skills,
        queue_ids=agent.queue_ids,
        team_ids=agent.team_ids,
        idle_since=idle_since,
        recent_assignments=recent,
    )


def _profile(demand: CaseDemand) -> tuple[Any, ...]:
    """Everything ``exclusion_reason`` reads of a case: cases with the same
    profile are open to exactly the same agents."""
    return (
        demand.channel_kind,
        tuple(sorted(demand.required_skills.items())),
        demand.queue_ids,
        demand.team_ids,
        demand.open_to_all,
        demand.units,
        demand.may_interrupt,
        demand.excluded_agents,
        demand.fair_cap,
    )


class WaitingLine:
    """Waiting cases, grouped by channel kind and profile, each group in rank
    order: which case an agent that gained room takes is decided on the
    groups' most urgent cases, in rank order, on the channel kinds the agent
    works — not on every waiting case. As the router's ``route_agent``: the
    most urgent case (smallest rank, then id) the agent may take."""

    def __init__(self) -> None:
        self._kinds: dict[str, dict[tuple[Any, ...], list[tuple[float, int]]]] = {}
        self._demands: dict[int, CaseDemand] = {}
        self._profiles: dict[int, tuple[Any, ...]] = {}
        self._interned: dict[tuple[Any, ...], tuple[Any, ...]] = {}  # one object per profile: compared by identity

    def __len__(self) -> int:
        return len(self._demands)

    def __contains__(self, case_id: int) -> bool:
        return case_id in self._demands

    def __iter__(self) -> Iterator[CaseDemand]:
        """The waiting cases' demands, in no particular order."""
        return iter(self._demands.values())

    def add(self, demand: CaseDemand) -> None:
        profile = _profile(demand)
        profile = self._interned.setdefault(profile, profile)
        self._demands[demand.case_id] = demand
        self._profiles[demand.case_id] = profile
        groups = self._kinds.setdefault(demand.channel_kind, {})
        heapq.heappush(groups.setdefault(profile, []), (demand.rank, demand.case_id))

    def discard(self, case_id: int) -> CaseDemand | None:
        """Stop waiting (taken, abandoned, or about to change); its heap entry goes lazily."""
        self._profiles.pop(case_id, None)
        return self._demands.pop(case_id, None)

    def first_for(self, agent: AgentState) -> CaseDemand | None:
        """The most urgent waiting case ``agent`` may take, or None."""
        heads = []
        profiles = self._profiles
        for kind in agent.channel_kinds:
            groups = self._kinds.get(kind)
            if not groups:
                continue
            empty = []
            for profile, heap in groups.items():
                while heap and profiles.get(heap[0][1]) is not profile:
                    heapq.heappop(heap)  # taken, abandoned or changed since
                if heap:
                    heads.append(heap[0])
                else:
                    empty.append(profile)
            for profile in empty:
                del groups[profile]
                self._interned.pop(profile, None)
        heads.sort()
        for _, case_id in heads:
            demand = self._demands[case_id]
            if exclusion_reason(demand, agent) is None:
                return demand
        return None
