"""Plain data the routing decision works on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

JUST_NOW = float("inf")  # idle_since of an agent just handed work in this plan


class Selection(StrEnum):
    """How a queue picks among eligible agents."""

    MOST_AVAILABLE = "most_available"  # most free capacity on the case's channel
    LEAST_ACTIVE = "least_active"  # fewest open cases
    LONGEST_IDLE = "longest_idle"  # idle the longest


class Exclusion(StrEnum):
    """Why an agent may not take a case."""

    STATUS = "status"  # presence status does not enable the channel kind, or not present
    DECLINED = "declined"  # declined or let this case's offer time out before
    MEMBERSHIP = "membership"  # does not serve the case's queue (nor a queue or team it overflowed to)
    SKILL = "skill"  # lacks a required skill
    PROFICIENCY = "proficiency"  # has the skill, below the minimum
    CAPACITY = "capacity"  # no room on the channel kind or in total
    FAIR_CAP = "fair_cap"  # had its share of assignments in the fair-distribution window


@dataclass(frozen=True, slots=True)
class AgentState:
    """An agent as the router sees it. Loads are in weighted units and count
    held cases (assigned, waiting on the customer, wrap-up) and pending offers."""

    agent_id: int
    channel_kinds: frozenset[str]  # enabled by the current status, while present
    capacity: Mapping[str, int]  # per channel kind: units the agent may hold
    capacity_total: int  # units across all channel kinds
    load: Mapping[str, int] = field(default_factory=dict)  # per channel kind: units held
    open_cases: int = 0
    skills: Mapping[str, int] = field(default_factory=dict)  # skill name -> proficiency 1..5
    queue_ids: frozenset[int] = frozenset()  # queues served, directly or through a team
    team_ids: frozenset[int] = frozenset()
    idle_since: float = 0.0  # seconds since epoch; smaller is idle longer
    recent_assignments: int = 0  # in the fair-distribution window

    def free_units(self, kind: str) -> int:
        return self.capacity.get(kind, 0) - self.load.get(kind, 0)

    @property
    def free_total(self) -> int:
        return self.capacity_total - sum(self.load.values())

    def with_work(self, kind: str, units: int) -> AgentState:
        """This agent after it was given ``units`` more on ``kind``."""
        load = dict(self.load)
        load[kind] = load.get(kind, 0) + units
        return replace(
            self,
            load=load,
            open_cases=self.open_cases + 1,
            recent_assignments=self.recent_assignments + 1,
            idle_since=JUST_NOW,  # just given work: last in the longest-idle line
        )


@dataclass(frozen=True, slots=True)
class CaseDemand:
    case_id: int
    channel_kind: str
    required_skills: Mapping[str, int] = field(default_factory=dict)  # skill -> minimum proficiency
    queue_ids: frozenset[int] = frozenset()  # the case's queue, plus queues it overflowed to
    team_ids: frozenset[int] = frozenset()  # teams it overflowed to
    open_to_all: bool = True  # no queue, a queue with no team and no members, or overflowed to everyone
    units: int = 1
    may_interrupt: bool = False  # may go to an agent with no room left (an urgent call)
    excluded_agents: frozenset[int] = frozenset()
    preferred_agent_id: int | None = None  # continuity: who served this customer recently
    selection: Selection = Selection.MOST_AVAILABLE
    fair_cap: int | None = None  # at most this many assignments per agent in the window
    rank: float = 0.0  # smaller is more urgent; see routing.core.rank


@dataclass(frozen=True, slots=True)
class Decision:
    case_id: int
    agent_id: int
    score: tuple[float, ...]  # rules.score's, () for continuity
    continuity: bool = False  # went to the preferred agent
