"""Who may take a case, who should, and which case comes first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from routing.core.state import AgentState, CaseDemand, Decision, Exclusion, Selection


def exclusion_reason(case: CaseDemand, agent: AgentState) -> Exclusion | None:
    """The first reason ``agent`` may not take ``case``, or None if eligible."""
    if case.channel_kind not in agent.channel_kinds:
        return Exclusion.STATUS
    if agent.agent_id in case.excluded_agents:
        return Exclusion.DECLINED
    if not case.queue_open_to_all and (agent.queue_ids is not None) and case.queue_id not in agent.queue_ids:
        return Exclusion.MEMBERSHIP
    for skill, minimum in case.required_skills.items():
        level = agent.skills.get(skill)
        if level is None:
            return Exclusion.SKILL
        if level < minimum:
            return Exclusion.PROFICIENCY
    if agent.free_units.get(case.channel_kind, 0) < case.units or agent.free_total < case.units:
        return Exclusion.CAPACITY
    return None


def _proficiency(case: CaseDemand, agent: AgentState) -> int:
    return sum(agent.skills.get(skill, 0) for skill in case.required_skills)


def _score(case: CaseDemand, agent: AgentState, selection: Selection) -> tuple:
    """Smaller is better. Ties: higher proficiency, then longest idle, then id."""
    if selection is Selection.LEAST_ACTIVE:
        primary: float = agent.open_cases
    elif selection is Selection.LONGEST_IDLE:
        primary = agent.idle_since
    else:
        primary = -agent.free_units.get(case.channel_kind, 0)
    return (primary, -_proficiency(case, agent), agent.idle_since, agent.agent_id)


def choose_agent(
    case: CaseDemand, agents: Iterable[AgentState], selection: Selection = Selection.MOST_AVAILABLE
) -> Decision | None:
    """The best eligible agent for ``case``, or None when nobody may take it."""
    best: tuple | None = None
    best_agent: AgentState | None = None
    for agent in agents:
        if exclusion_reason(case, agent) is not None:
            continue
        score = _score(case, agent, selection)
        if best is None or score < best:
            best, best_agent = score, agent
    if best_agent is None or best is None:
        return None
    return Decision(case_id=case.case_id, agent_id=best_agent.agent_id, score=best)


def rank_cases(cases: Sequence[CaseDemand]) -> list[CaseDemand]:
    """Most urgent first: queue priority, case priority, VIP, then waited longest."""
    return sorted(cases, key=lambda c: (c.queue_priority, c.priority, not c.vip, c.waiting_since, c.case_id))
