"""Plain data the routing decision works on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Selection(StrEnum):
    """How a queue picks among eligible agents."""

    MOST_AVAILABLE = "most_available"  # most free capacity on the case's channel
    LEAST_ACTIVE = "least_active"  # fewest open cases
    LONGEST_IDLE = "longest_idle"  # idle the longest


class Exclusion(StrEnum):
    """Why an agent may not take a case."""

    STATUS = "status"  # presence status does not enable the channel kind, or not present
    CAPACITY = "capacity"  # no room on the channel kind or in total
    SKILL = "skill"  # lacks a required skill
    PROFICIENCY = "proficiency"  # has the skill, below the minimum
    MEMBERSHIP = "membership"  # does not serve the case's queue
    DECLINED = "declined"  # declined or let this case's offer time out before


@dataclass(frozen=True, slots=True)
class AgentState:
    agent_id: int
    channel_kinds: frozenset[str]  # enabled by the current status, while present
    free_units: Mapping[str, int]  # per channel kind: capacity minus load
    free_total: int  # total capacity minus total load
    open_cases: int
    skills: Mapping[str, int]  # skill name -> proficiency 1..5
    queue_ids: frozenset[int] | None = None  # queues served; None: the agent serves every queue
    idle_since: float = 0.0  # seconds since epoch; smaller is idle longer


@dataclass(frozen=True, slots=True)
class CaseDemand:
    case_id: int
    channel_kind: str
    required_skills: Mapping[str, int] = field(default_factory=dict)  # skill -> minimum proficiency
    queue_id: int | None = None
    queue_open_to_all: bool = True  # a queue with no team and no members is served by everyone
    units: int = 1
    excluded_agents: frozenset[int] = frozenset()
    queue_priority: int = 3  # 1 most urgent
    priority: int = 3  # 1 urgent .. 4 low
    vip: bool = False
    waiting_since: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    case_id: int
    agent_id: int
    score: tuple
