"""Why a case went to an agent: the reasoning of one decision, noted while
it is made and kept as a small piece of plain data.

The pool notes how many agents each test removed, in the order it applies
them (presence status, room, each required skill, membership, declined
before, fair share), names the excluded agents among those serving the
case's queue when they are few enough to list, and keeps the chosen agent
and the best runners-up with the values they were compared on. Noting costs
a few counts per test; naming and ranking are bounded (``NAMED``,
``RUNNERS_UP``), so an explanation stays small whatever the number of agents.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from routing.core.rules import exclusion_reason, proficiency, score
from routing.core.state import CaseDemand

if TYPE_CHECKING:  # pragma: no cover
    from routing.core.choose import AgentPool

VERSION = 1
NAMED = 40  # excluded agents are named when the queue's agents are at most this many
RUNNERS_UP = 3  # eligible agents kept beside the chosen one
EXACT = 8  # up to this many eligible agents, runners-up are ranked on the full score


class Why:
    """The reasoning of one decision, filled in by ``AgentPool.choose``."""

    __slots__ = ("considered", "decided_by", "eligible", "excluded", "ranked", "rule", "steps", "ties")

    def __init__(self) -> None:
        self.considered = 0  # agents routable at the time (signed in, a status that routes)
        self.steps: list[tuple[str, int]] = []  # (test, agents it removed), only tests that removed some
        self.eligible = 0
        self.excluded: dict[str, list[int]] = {}  # reason -> agent ids, among the queue's agents
        self.decided_by = "none"  # continuity | selection | proficiency | idle | id | none
        self.rule = ""
        self.ranked: list[dict[str, Any]] = []  # the chosen agent first, then the runners-up
        self.ties: dict[str, int] = {}  # agents still level after the rule, proficiency, idle time

    def step(self, test: str, before: int, after: int) -> None:
        if before != after:
            self.steps.append((str(test), before - after))

    def name_excluded(self, pool: AgentPool, case: CaseDemand, eligible: Collection[int]) -> None:
        self.eligible = len(eligible)
        self.rule = str(case.selection)
        serving = pool.serving(case)
        if len(serving) > NAMED:
            return
        states = pool.states
        for agent_id in serving:
            if agent_id in eligible or agent_id not in states:
                continue
            reason = exclusion_reason(case, states[agent_id])
            if reason is not None:
                self.excluded.setdefault(str(reason), []).append(agent_id)
        for ids in self.excluded.values():
            ids.sort()

    def rank(
        self,
        pool: AgentPool,
        case: CaseDemand,
        eligible: Collection[int],
        closest: Collection[int],
        chosen: int,
    ) -> None:
        """Keep the chosen agent and a few others with what they were
        compared on. Among a few eligible agents, the best others on the
        full score; among many, some of the closest competitors (those tied
        with the chosen one through the most tie-breaks), taken as they
        come: no pass over every eligible agent, so a decision stays a few
        set operations."""
        if len(eligible) <= EXACT:
            others = sorted((a for a in eligible if a != chosen), key=lambda a: score(case, pool.states[a]))
        else:
            others = []
            for agent_id in closest:
                if agent_id != chosen:
                    others.append(agent_id)
                    if len(others) == RUNNERS_UP:
                        break
        self.ranked = [_standing(pool, case, a) for a in (chosen, *others[:RUNNERS_UP])]

    def data(self) -> dict[str, Any]:
        """Plain JSON-ready data (no infinities, no tuples)."""
        return {
            "v": VERSION,
            "considered": self.considered,
            "steps": [list(step) for step in self.steps],
            "eligible": self.eligible,
            "excluded": self.excluded,
            "rule": self.rule,
            "decided_by": self.decided_by,
            "ranked": self.ranked,
            "ties": self.ties,
        }


def _standing(pool: AgentPool, case: CaseDemand, agent_id: int) -> dict[str, Any]:
    state = pool.states[agent_id]
    idle = state.idle_since
    return {
        "agent": agent_id,
        "free": state.free_units(case.channel_kind),
        "open": state.open_cases,
        "idle_since": None if math.isinf(idle) or not idle else round(idle, 3),
        "proficiency": proficiency(case, state),
    }
