"""Who may take a case, and how eligible agents compare."""

from __future__ import annotations

from routing.core.state import AgentState, CaseDemand, Exclusion, Selection


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


def score(case: CaseDemand, agent: AgentState) -> tuple[float, int, float, int]:
    """Smaller is better: the queue's selection rule first, then higher
    proficiency in the required skills, then idle longest, then lowest id."""
    if case.selection is Selection.LEAST_ACTIVE:
        primary: float = agent.open_cases
    elif case.selection is Selection.LONGEST_IDLE:
        primary = agent.idle_since
    else:
        primary = -agent.free_units(case.channel_kind)
    return (primary, -proficiency(case, agent), agent.idle_since, agent.agent_id)
