"""The reasoning a decision notes (``routing.core.explain``): property-tested
against the plain rules, so an explanation can never tell a different story
from the decision it explains."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from routing.core import AgentPool, Exclusion, Selection, Why, exclusion_reason, plan
from routing.core.explain import NAMED
from tests.routing.test_core import a_case, an_agent, backlogs, cases, pools

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg


@settings(max_examples=300)
@given(case=cases(), pool=pools())
def test_the_noted_counts_and_names_agree_with_the_rules(case, pool):
    kept = AgentPool(pool)
    why = Why()
    decision = kept.choose(case, why)
    eligible = [a for a in pool if exclusion_reason(case, a) is None]

    assert why.considered == len(pool)
    assert why.eligible == len(eligible)
    # Every agent removed is removed by exactly one noted test.
    assert sum(removed for _, removed in why.steps) == len(pool) - len(eligible)
    # Each named agent is excluded, for the first reason the rules give.
    for reason, ids in why.excluded.items():
        for agent_id in ids:
            state = kept.states[agent_id]
            assert str(exclusion_reason(case, state)) == reason
    if decision is None:
        assert why.ranked == [] and why.decided_by == "none"
    else:
        assert why.ranked[0]["agent"] == decision.agent_id
        if decision.continuity:
            assert why.decided_by == "continuity"
        else:
            assert why.decided_by in {"selection", "proficiency", "idle", "id"}
        runners = [r["agent"] for r in why.ranked[1:]]
        assert decision.agent_id not in runners
        assert all(exclusion_reason(case, kept.states[a]) is None for a in runners)


@settings(max_examples=200, deadline=None)
@given(backlog=backlogs(), pool=pools())
def test_noting_the_reasons_never_changes_a_decision(backlog, pool):
    notes: dict = {}
    assert plan(backlog, AgentPool(pool), notes=notes) == plan(backlog, AgentPool(pool))
    assert set(notes) == {c.case_id for c in backlog}


def test_an_explanation_names_each_excluded_agent_of_the_queue_and_why():
    case = a_case(excluded_agents=frozenset([5]))
    pool = AgentPool(
        [
            an_agent(1, channel_kinds=frozenset(["email"])),  # status
            an_agent(2, queue_ids=frozenset([3])),  # does not serve the queue: not named, counted
            an_agent(3, skills={}),  # skill
            an_agent(4, skills={"lang-es": 1}),  # proficiency
            an_agent(5),  # declined
            an_agent(6, load={"web_chat": 2}),  # capacity
            an_agent(7, skills={"lang-es": 5}),
            an_agent(8, skills={"lang-es": 3}),
        ]
    )
    why = Why()
    decision = pool.choose(case, why)
    data = why.data()

    assert decision.agent_id == 7
    assert data["considered"] == 8 and data["eligible"] == 2
    assert data["excluded"] == {"status": [1], "skill": [3], "proficiency": [4], "declined": [5], "capacity": [6]}
    assert dict(data["steps"]) == {"status": 1, "capacity": 1, "skill:lang-es>=2": 2, "membership": 1, "declined": 1}
    assert data["rule"] == "most_available" and data["decided_by"] == "proficiency"
    assert [r["agent"] for r in data["ranked"]] == [7, 8]
    assert data["ranked"][0] == {"agent": 7, "free": 2, "open": 0, "idle_since": None, "proficiency": 5}


def test_the_rule_that_decided_is_named():
    pool = AgentPool([an_agent(1, load={"web_chat": 1}), an_agent(2)])
    why = Why()
    assert pool.choose(a_case(), why).agent_id == 2
    assert why.decided_by == "selection"  # most available: 2 free against 1

    pool = AgentPool([an_agent(1, idle_since=50.0), an_agent(2, idle_since=10.0)])
    why = Why()
    assert pool.choose(a_case(), why).agent_id == 2
    assert why.decided_by == "idle"

    pool = AgentPool([an_agent(1), an_agent(2)])
    why = Why()
    assert pool.choose(a_case(selection=Selection.LEAST_ACTIVE), why).agent_id == 1
    assert (why.decided_by, why.rule) == ("id", "least_active")

    pool = AgentPool([an_agent(1), an_agent(2)])
    why = Why()
    assert pool.choose(a_case(preferred_agent_id=2), why).agent_id == 2
    assert why.decided_by == "continuity"


def test_a_large_queue_is_counted_not_listed():
    pool = AgentPool([an_agent(i, skills={}) for i in range(1, NAMED + 2)] + [an_agent(NAMED + 2)])
    why = Why()
    assert pool.choose(a_case(), why).agent_id == NAMED + 2
    assert why.excluded == {}
    assert dict(why.steps) == {f"{Exclusion.SKILL}:lang-es>=2": NAMED + 1}


def test_nobody_eligible_still_says_why():
    pool = AgentPool([an_agent(1, channel_kinds=frozenset(["email"]))])
    why = Why()
    assert pool.choose(a_case(), why) is None
    assert why.data()["excluded"] == {"status": [1]} and why.eligible == 0
