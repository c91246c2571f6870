"""The pure routing core, property-tested over random agents, skills,
capacities and cases: every decision is eligible, nothing goes over
capacity, the indexed pool decides exactly as the plain scan, and the
case order ages so nothing starves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.core import (
    AgentPool,
    AgentState,
    CaseDemand,
    Exclusion,
    Selection,
    choose_agent,
    exclusion_reason,
    level,
    plan,
    rank,
    rank_cases,
    score,
)

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg

KINDS = ["web_chat", "email", "sms", "phone"]
SKILLS = ["lang-es", "lang-en", "billing", "tech"]


@st.composite
def agents(draw, agent_id: int) -> AgentState:
    capacity = draw(st.dictionaries(st.sampled_from(KINDS), st.integers(0, 4), max_size=4))
    load = {k: draw(st.integers(0, 2)) for k in capacity}
    return AgentState(
        agent_id=agent_id,
        channel_kinds=frozenset(draw(st.lists(st.sampled_from(KINDS), max_size=4))),
        capacity=capacity,
        capacity_total=draw(st.integers(0, 8)),
        load=load,
        open_cases=draw(st.integers(0, 6)),
        skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=4)),
        queue_ids=frozenset(draw(st.lists(st.integers(1, 3), max_size=2))),
        team_ids=frozenset(draw(st.lists(st.integers(1, 2), max_size=1))),
        idle_since=draw(st.floats(0, 1000, allow_nan=False)),
        recent_assignments=draw(st.integers(0, 3)),
    )


@st.composite
def pools(draw, min_size: int = 0) -> list[AgentState]:
    n = draw(st.integers(min_size, 10))
    return [draw(agents(i + 1)) for i in range(n)]


@st.composite
def cases(draw, case_id: int = 1) -> CaseDemand:
    return CaseDemand(
        case_id=case_id,
        channel_kind=draw(st.sampled_from(KINDS)),
        required_skills=draw(st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2)),
        queue_ids=frozenset(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))),
        team_ids=frozenset(draw(st.lists(st.integers(1, 2), max_size=1))),
        open_to_all=draw(st.booleans()),
        units=draw(st.integers(1, 3)),
        may_interrupt=draw(st.booleans()),
        excluded_agents=frozenset(draw(st.lists(st.integers(1, 10), max_size=2))),
        preferred_agent_id=draw(st.none() | st.integers(1, 10)),
        selection=draw(st.sampled_from(list(Selection))),
        fair_cap=draw(st.none() | st.integers(1, 3)),
        rank=draw(st.floats(0, 1000, allow_nan=False)),
    )


@st.composite
def backlogs(draw) -> list[CaseDemand]:
    n = draw(st.integers(0, 12))
    return [draw(cases(i + 1)) for i in range(n)]


@settings(max_examples=300)
@given(case=cases(), pool=pools())
def test_a_chosen_agent_is_eligible_and_nobody_is_chosen_only_when_nobody_is(case, pool):
    decision = choose_agent(case, pool)
    eligible = [a for a in pool if exclusion_reason(case, a) is None]
    if decision is None:
        assert eligible == []
        return
    chosen = next(a for a in pool if a.agent_id == decision.agent_id)
    assert exclusion_reason(case, chosen) is None
    if decision.continuity:
        assert chosen.agent_id == case.preferred_agent_id
    else:
        # Nobody eligible scores better, and the preferred agent was not eligible.
        assert all(score(case, chosen) <= score(case, a) for a in eligible)
        assert case.preferred_agent_id not in {a.agent_id for a in eligible}


@settings(max_examples=300)
@given(case=cases(), pool=pools())
def test_the_indexed_pool_decides_exactly_as_the_plain_scan(case, pool):
    assert AgentPool(pool).choose(case) == choose_agent(case, pool)


@settings(max_examples=200, deadline=None)  # many plans per example: slow on a busy machine, not wrong
@given(backlog=backlogs(), pool=pools(), fresher=pools(), data=st.data())
def test_a_pool_kept_across_takes_and_updates_still_decides_as_the_plain_scan(backlog, pool, fresher, data):
    """The router keeps one pool across batches: it hands out work (take) and
    puts fresher states in (update, also with other skills, kinds, queues).
    After any of that it must still decide exactly as a scan of its states."""
    kept = AgentPool(pool)
    for case in backlog:
        decision = kept.choose(case)
        assert decision == choose_agent(case, list(kept.states.values()))
        if decision is not None:
            kept.take(decision, case)
        if fresher and data.draw(st.booleans()):
            kept.update([data.draw(st.sampled_from(fresher))])
            probe = data.draw(cases())
            assert kept.choose(probe) == choose_agent(probe, list(kept.states.values()))
            assert kept.has_room() == AgentPool(list(kept.states.values())).has_room()


@settings(max_examples=300)
@given(backlog=backlogs(), pool=pools())
def test_a_planned_batch_keeps_every_promise(backlog, pool):
    decisions = plan(backlog, pool)
    by_case = {c.case_id: c for c in backlog}
    # Each case at most once.
    assert len({d.case_id for d in decisions}) == len(decisions)
    # Replaying the decisions in order: each is eligible when it is made, and
    # so no agent goes over capacity for work that may not interrupt.
    state = {a.agent_id: a for a in pool}
    for decision in decisions:
        case = by_case[decision.case_id]
        agent = state[decision.agent_id]
        assert exclusion_reason(case, agent) is None
        if not case.may_interrupt:
            assert agent.free_units(case.channel_kind) >= case.units and agent.free_total >= case.units
        state[agent.agent_id] = agent.with_work(case.channel_kind, case.units)
    # Nothing left waiting that someone could still take.
    decided = {d.case_id for d in decisions}
    for case in backlog:
        if case.case_id not in decided:
            assert all(exclusion_reason(case, a) is not None for a in state.values())


def test_a_batch_hands_out_no_more_than_an_agent_has_room_for():
    agent = an_agent(1, capacity={"web_chat": 2}, capacity_total=5)
    backlog = [a_case(case_id=i, rank=float(i)) for i in range(1, 5)]
    decisions = plan(backlog, [agent])
    assert [(d.case_id, d.agent_id) for d in decisions] == [(1, 1), (2, 1)]


@given(backlog=backlogs(), pool=pools(min_size=1))
def test_a_batch_serves_cases_in_rank_order(backlog, pool):
    decisions = plan(backlog, pool)
    ranked = [c.case_id for c in rank_cases(backlog)]
    positions = [ranked.index(d.case_id) for d in decisions]
    assert positions == sorted(positions)


def an_agent(agent_id: int, **kw) -> AgentState:
    base = {
        "agent_id": agent_id,
        "channel_kinds": frozenset(["web_chat"]),
        "capacity": {"web_chat": 2},
        "capacity_total": 3,
        "skills": {"lang-es": 3},
        "queue_ids": frozenset([7]),
    }
    base.update(kw)
    return AgentState(**base)


def a_case(**kw) -> CaseDemand:
    base = {
        "case_id": 1,
        "channel_kind": "web_chat",
        "required_skills": {"lang-es": 2},
        "queue_ids": frozenset([7]),
        "open_to_all": False,
    }
    base.update(kw)
    return CaseDemand(**base)


def test_each_exclusion_reason_is_named():
    case = a_case(excluded_agents=frozenset([5]), fair_cap=2)
    assert exclusion_reason(case, an_agent(1, channel_kinds=frozenset(["email"]))) is Exclusion.STATUS
    assert exclusion_reason(case, an_agent(5)) is Exclusion.DECLINED
    assert exclusion_reason(case, an_agent(2, queue_ids=frozenset([3]))) is Exclusion.MEMBERSHIP
    assert exclusion_reason(case, an_agent(3, skills={})) is Exclusion.SKILL
    assert exclusion_reason(case, an_agent(4, skills={"lang-es": 1})) is Exclusion.PROFICIENCY
    assert exclusion_reason(case, an_agent(6, load={"web_chat": 2})) is Exclusion.CAPACITY
    assert exclusion_reason(case, an_agent(7, load={"email": 3}, capacity={"web_chat": 2, "email": 3})) is (
        Exclusion.CAPACITY
    )
    assert exclusion_reason(case, an_agent(8, recent_assignments=2)) is Exclusion.FAIR_CAP
    assert exclusion_reason(case, an_agent(9, recent_assignments=1)) is None


def test_membership_through_a_team_or_an_overflow_queue():
    case = a_case(team_ids=frozenset([4]))
    assert exclusion_reason(case, an_agent(1, queue_ids=frozenset(), team_ids=frozenset([4]))) is None
    assert exclusion_reason(case, an_agent(2, queue_ids=frozenset(), team_ids=frozenset([5]))) is Exclusion.MEMBERSHIP
    widened = a_case(queue_ids=frozenset([7, 8]))
    assert exclusion_reason(widened, an_agent(3, queue_ids=frozenset([8]))) is None
    assert exclusion_reason(a_case(open_to_all=True), an_agent(4, queue_ids=frozenset())) is None


def test_weighted_units_and_interrupts():
    call = a_case(channel_kind="phone", required_skills={}, units=3)
    agent = an_agent(1, channel_kinds=frozenset(["phone", "web_chat"]), capacity={"phone": 3, "web_chat": 2})
    assert exclusion_reason(call, agent) is None
    busy = agent.with_work("web_chat", 1)  # one chat: the call no longer fits in the total of 3
    assert exclusion_reason(call, busy) is Exclusion.CAPACITY
    urgent = a_case(channel_kind="phone", required_skills={}, units=3, may_interrupt=True)
    assert exclusion_reason(urgent, busy) is None
    # An interrupt still needs the channel enabled and the skills.
    assert exclusion_reason(urgent, an_agent(2)) is Exclusion.STATUS


def test_selection_rules_pick_as_named():
    free = an_agent(1, load={"web_chat": 0}, open_cases=2, idle_since=50.0, capacity={"web_chat": 3})
    active = an_agent(2, load={"web_chat": 1}, open_cases=0, idle_since=90.0, capacity={"web_chat": 3})
    idle = an_agent(3, load={"web_chat": 1}, open_cases=1, idle_since=10.0, capacity={"web_chat": 3})
    pool = [free, active, idle]
    assert choose_agent(a_case(selection=Selection.MOST_AVAILABLE), pool).agent_id == 1
    assert choose_agent(a_case(selection=Selection.LEAST_ACTIVE), pool).agent_id == 2
    assert choose_agent(a_case(selection=Selection.LONGEST_IDLE), pool).agent_id == 3


def test_ties_go_to_higher_proficiency_then_longest_idle():
    case = a_case(required_skills={"lang-es": 1})
    low = an_agent(1, skills={"lang-es": 2}, idle_since=10.0)
    high = an_agent(2, skills={"lang-es": 5}, idle_since=99.0)
    assert choose_agent(case, [low, high]).agent_id == 2
    early = an_agent(3, skills={"lang-es": 5}, idle_since=5.0)
    assert choose_agent(case, [low, high, early]).agent_id == 3


def test_continuity_prefers_the_last_agent_only_while_eligible():
    best = an_agent(1, capacity={"web_chat": 5}, capacity_total=5)
    last = an_agent(2)
    decision = choose_agent(a_case(preferred_agent_id=2), [best, last])
    assert decision.agent_id == 2 and decision.continuity
    full = an_agent(2, load={"web_chat": 2})
    decision = choose_agent(a_case(preferred_agent_id=2), [best, full])
    assert decision.agent_id == 1 and not decision.continuity


def test_rank_orders_by_queue_priority_then_priority_then_tier_then_wait():
    def r(qp, p, vip, at):
        return rank(queued_at=at, queue_priority=qp, priority=p, vip=vip, aging_seconds=300)

    arrived = 1_000_000.0
    assert r(1, 4, False, arrived) < r(2, 1, True, arrived)  # queue priority first
    assert r(3, 1, False, arrived) < r(3, 2, True, arrived)  # then case priority
    assert r(3, 2, True, arrived) < r(3, 2, False, arrived)  # then VIP
    assert r(3, 2, False, arrived) < r(3, 2, False, arrived + 1)  # then who waited longer
    assert level(queue_priority=1, priority=1, vip=True) == 0
    assert level(queue_priority=5, priority=4, vip=False) == 39


@given(
    qp=st.integers(1, 5),
    p=st.integers(1, 4),
    vip=st.booleans(),
    aging=st.integers(1, 3600),
    at=st.floats(0, 1e9, allow_nan=False),
)
def test_aging_bounds_how_long_any_case_can_be_overtaken(qp, p, vip, aging, at):
    # No starvation: a case is served before every case that arrives more
    # than 39 aging steps after it, whatever their priorities.
    mine = rank(queued_at=at, queue_priority=qp, priority=p, vip=vip, aging_seconds=aging)
    later = rank(queued_at=at + 39 * aging + 1, queue_priority=1, priority=1, vip=True, aging_seconds=aging)
    assert mine < later


def test_an_sla_due_time_moves_a_case_forward_never_back():
    plain = rank(queued_at=100.0, queue_priority=3, priority=3, vip=False, aging_seconds=300)
    due_soon = rank(queued_at=100.0, queue_priority=3, priority=3, vip=False, aging_seconds=300, sla_due_at=200.0)
    due_late = rank(queued_at=100.0, queue_priority=3, priority=3, vip=False, aging_seconds=300, sla_due_at=1e9)
    assert due_soon == 200.0 < plain == due_late


def test_rank_cases_breaks_ties_by_id():
    a, b, c = a_case(case_id=3, rank=5.0), a_case(case_id=1, rank=5.0), a_case(case_id=2, rank=1.0)
    assert [x.case_id for x in rank_cases([a, b, c])] == [2, 1, 3]


def test_longest_idle_rotates_within_a_batch():
    early = an_agent(1, capacity={"web_chat": 9}, capacity_total=9, idle_since=10.0)
    later = an_agent(2, capacity={"web_chat": 9}, capacity_total=9, idle_since=20.0)
    backlog = [a_case(case_id=i, rank=float(i), selection=Selection.LONGEST_IDLE) for i in range(1, 4)]
    assert [d.agent_id for d in plan(backlog, [early, later])] == [1, 2, 1]
