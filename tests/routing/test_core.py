"""The pure routing decision, property-tested without a database."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.core import AgentState, CaseDemand, Exclusion, Selection, choose_agent, exclusion_reason, rank_cases

KINDS = ["web_chat", "email", "sms"]
SKILLS = ["billing", "tech", "lang-es", "lang-en"]

skill_maps = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=4)


@st.composite
def agents(draw, agent_id: int) -> AgentState:
    kinds = draw(st.frozensets(st.sampled_from(KINDS)))
    return AgentState(
        agent_id=agent_id,
        channel_kinds=kinds,
        free_units={k: draw(st.integers(-2, 3)) for k in KINDS},
        free_total=draw(st.integers(-2, 5)),
        open_cases=draw(st.integers(0, 6)),
        skills=draw(skill_maps),
        queue_ids=draw(st.one_of(st.none(), st.frozensets(st.integers(1, 3)))),
        idle_since=draw(st.floats(0, 1e6, allow_nan=False)),
    )


@st.composite
def agent_lists(draw):
    n = draw(st.integers(0, 12))
    return [draw(agents(i + 1)) for i in range(n)]


cases = st.builds(
    CaseDemand,
    case_id=st.integers(1, 1000),
    channel_kind=st.sampled_from(KINDS),
    required_skills=skill_maps,
    queue_id=st.integers(1, 3),
    queue_open_to_all=st.booleans(),
    units=st.integers(1, 2),
    excluded_agents=st.frozensets(st.integers(1, 12), max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(case=cases, pool=agent_lists(), selection=st.sampled_from(list(Selection)))
def test_chosen_agent_is_always_eligible(case, pool, selection):
    decision = choose_agent(case, pool, selection)
    if decision is None:
        assert all(exclusion_reason(case, a) is not None for a in pool)
        return
    chosen = next(a for a in pool if a.agent_id == decision.agent_id)
    assert exclusion_reason(case, chosen) is None
    # presence, capacity, skills, membership and earlier declines all hold
    assert case.channel_kind in chosen.channel_kinds
    assert chosen.free_units.get(case.channel_kind, 0) >= case.units and chosen.free_total >= case.units
    assert all(chosen.skills.get(s, 0) >= m for s, m in case.required_skills.items())
    assert chosen.agent_id not in case.excluded_agents


@settings(max_examples=300, deadline=None)
@given(case=cases, pool=agent_lists())
def test_most_available_picks_the_most_free_capacity(case, pool):
    decision = choose_agent(case, pool, Selection.MOST_AVAILABLE)
    eligible = [a for a in pool if exclusion_reason(case, a) is None]
    if not eligible:
        assert decision is None
        return
    best_free = max(a.free_units[case.channel_kind] for a in eligible)
    chosen = next(a for a in pool if a.agent_id == decision.agent_id)
    assert chosen.free_units[case.channel_kind] == best_free


@settings(max_examples=200, deadline=None)
@given(case=cases, pool=agent_lists())
def test_least_active_picks_fewest_open_cases(case, pool):
    decision = choose_agent(case, pool, Selection.LEAST_ACTIVE)
    eligible = [a for a in pool if exclusion_reason(case, a) is None]
    if eligible:
        chosen = next(a for a in pool if a.agent_id == decision.agent_id)
        assert chosen.open_cases == min(a.open_cases for a in eligible)


def _agent(agent_id, **kw):
    base = {
        "agent_id": agent_id,
        "channel_kinds": frozenset(["web_chat"]),
        "free_units": {"web_chat": 2},
        "free_total": 4,
        "open_cases": 0,
        "skills": {"lang-es": 3},
        "queue_ids": None,
        "idle_since": 100.0,
    }
    base.update(kw)
    return AgentState(**base)


def test_each_exclusion_reason_is_named():
    case = CaseDemand(
        case_id=1,
        channel_kind="web_chat",
        required_skills={"lang-es": 4},
        queue_id=7,
        queue_open_to_all=False,
        excluded_agents=frozenset([5]),
    )
    assert exclusion_reason(case, _agent(1, channel_kinds=frozenset(["email"]))) is Exclusion.STATUS
    assert exclusion_reason(case, _agent(5, skills={"lang-es": 5}, queue_ids=frozenset([7]))) is Exclusion.DECLINED
    assert exclusion_reason(case, _agent(2, queue_ids=frozenset([3]))) is Exclusion.MEMBERSHIP
    assert exclusion_reason(case, _agent(3, skills={}, queue_ids=frozenset([7]))) is Exclusion.SKILL
    assert exclusion_reason(case, _agent(4, queue_ids=frozenset([7]))) is Exclusion.PROFICIENCY
    full = _agent(6, skills={"lang-es": 5}, queue_ids=frozenset([7]), free_units={"web_chat": 0})
    assert exclusion_reason(case, full) is Exclusion.CAPACITY
    busy = _agent(8, skills={"lang-es": 5}, queue_ids=frozenset([7]), free_total=0)
    assert exclusion_reason(case, busy) is Exclusion.CAPACITY
    ok = _agent(9, skills={"lang-es": 4}, queue_ids=frozenset([7]))
    assert exclusion_reason(case, ok) is None


def test_ties_go_to_higher_proficiency_then_longest_idle():
    case = CaseDemand(case_id=1, channel_kind="web_chat", required_skills={"lang-es": 1})
    low = _agent(1, skills={"lang-es": 2}, idle_since=10.0)
    high = _agent(2, skills={"lang-es": 5}, idle_since=50.0)
    assert choose_agent(case, [low, high]).agent_id == 2
    early = _agent(3, skills={"lang-es": 5}, idle_since=5.0)
    assert choose_agent(case, [low, high, early]).agent_id == 3


def test_cases_rank_by_queue_priority_then_priority_then_vip_then_wait():
    a = CaseDemand(case_id=1, channel_kind="email", queue_priority=3, priority=1, waiting_since=1.0)
    b = CaseDemand(case_id=2, channel_kind="email", queue_priority=2, priority=4, waiting_since=9.0)
    c = CaseDemand(case_id=3, channel_kind="email", queue_priority=3, priority=1, vip=True, waiting_since=5.0)
    d = CaseDemand(case_id=4, channel_kind="email", queue_priority=3, priority=1, waiting_since=0.5)
    assert [x.case_id for x in rank_cases([a, b, c, d])] == [2, 3, 4, 1]
