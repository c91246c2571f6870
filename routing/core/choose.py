"""Who may take a case, who should, and which cases go to whom in a batch."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from routing.core.state import AgentState, CaseDemand, Decision, Exclusion, Selection


def exclusion_reason(case: CaseDemand, agent: AgentState) -> Exclusion | None:
    """The first reason ``agent`` may not take ``case``, or None if eligible."""
    if case.channel_kind not in agent.channel_kinds:
        return Exclusion.STATUS
    if agent.agent_id in case.excluded_agents:
        return Exclusion.DECLINED
    if not serves(case, agent):
        return Exclusion.MEMBERSHIP
    for skill, minimum in case.required_skills.items():
        level = agent.skills.get(skill)
        if level is None:
            return Exclusion.SKILL
        if level < minimum:
            return Exclusion.PROFICIENCY
    if not case.may_interrupt and (agent.free_units(case.channel_kind) < case.units or agent.free_total < case.units):
        return Exclusion.CAPACITY
    if case.fair_cap is not None and agent.recent_assignments >= case.fair_cap:
        return Exclusion.FAIR_CAP
    return None


def serves(case: CaseDemand, agent: AgentState) -> bool:
    return case.open_to_all or bool(agent.queue_ids & case.queue_ids) or bool(agent.team_ids & case.team_ids)


def proficiency(case: CaseDemand, agent: AgentState) -> int:
    return sum(agent.skills.get(skill, 0) for skill in case.required_skills)


def score(case: CaseDemand, agent: AgentState) -> tuple:
    """Smaller is better: the queue's selection rule first, then higher
    proficiency in the required skills, then idle longest, then lowest id."""
    if case.selection is Selection.LEAST_ACTIVE:
        primary: float = agent.open_cases
    elif case.selection is Selection.LONGEST_IDLE:
        primary = agent.idle_since
    else:
        primary = -agent.free_units(case.channel_kind)
    return (primary, -proficiency(case, agent), agent.idle_since, agent.agent_id)


def choose_agent(case: CaseDemand, agents: Iterable[AgentState]) -> Decision | None:
    """The best eligible agent for ``case``, or None when nobody may take it.
    The preferred agent (continuity) wins whenever eligible."""
    best: tuple | None = None
    best_agent: AgentState | None = None
    for agent in agents:
        if exclusion_reason(case, agent) is not None:
            continue
        if agent.agent_id == case.preferred_agent_id:
            return Decision(case_id=case.case_id, agent_id=agent.agent_id, score=(), continuity=True)
        value = score(case, agent)
        if best is None or value < best:
            best, best_agent = value, agent
    if best_agent is None or best is None:
        return None
    return Decision(case_id=case.case_id, agent_id=best_agent.agent_id, score=best)


def rank_cases(cases: Iterable[CaseDemand]) -> list[CaseDemand]:
    """Most urgent first (see ``routing.core.rank``)."""
    return sorted(cases, key=lambda c: (c.rank, c.case_id))


class AgentPool:
    """Agents for one batch of decisions, indexed so a decision looks only at
    agents with the case's channel kind enabled and its skills, and updated
    as the batch hands out work. Decides exactly as ``choose_agent`` would."""

    def __init__(self, agents: Iterable[AgentState]) -> None:
        self.states: dict[int, AgentState] = {}
        self._by_kind: dict[str, set[int]] = {}
        self._by_skill: dict[str, dict[int, int]] = {}
        self._at_least: dict[tuple[str, int], frozenset[int]] = {}
        for agent in agents:
            self.states[agent.agent_id] = agent
            for kind in agent.channel_kinds:
                self._by_kind.setdefault(kind, set()).add(agent.agent_id)
            for skill, level in agent.skills.items():
                self._by_skill.setdefault(skill, {})[agent.agent_id] = level

    def _skilled(self, skill: str, minimum: int) -> frozenset[int]:
        key = (skill, minimum)
        found = self._at_least.get(key)
        if found is None:
            levels = self._by_skill.get(skill, {})
            found = frozenset(a for a, level in levels.items() if level >= minimum)
            self._at_least[key] = found
        return found

    def candidates(self, case: CaseDemand) -> set[int]:
        ids = set(self._by_kind.get(case.channel_kind, ()))
        for skill, minimum in case.required_skills.items():
            if not ids:
                break
            ids &= self._skilled(skill, minimum)
        ids -= case.excluded_agents
        return ids

    def choose(self, case: CaseDemand) -> Decision | None:
        return choose_agent(case, (self.states[a] for a in self.candidates(case)))

    def take(self, decision: Decision, case: CaseDemand) -> None:
        agent = self.states[decision.agent_id]
        self.states[decision.agent_id] = agent.with_work(case.channel_kind, case.units)

    def has_room(self) -> bool:
        """Anyone with a free unit on an enabled channel kind."""
        return any(a.free_total > 0 and any(a.free_units(k) > 0 for k in a.channel_kinds) for a in self.states.values())


def plan(cases: Sequence[CaseDemand], agents: Iterable[AgentState] | AgentPool) -> list[Decision]:
    """Decide a batch: cases in rank order, each to the best eligible agent
    given the work already handed out in this batch."""
    pool = agents if isinstance(agents, AgentPool) else AgentPool(agents)
    decisions = []
    for case in rank_cases(cases):
        decision = pool.choose(case)
        if decision is not None:
            pool.take(decision, case)
            decisions.append(decision)
    return decisions
