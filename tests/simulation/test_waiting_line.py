"""``routing.core.sim_api``: the waiting line an agent pulls from decides as
a scan of every waiting case would, and overflow steps widen a demand as
the router's do."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.core import AgentState, CaseDemand, exclusion_reason
from routing.core.sim_api import (
    ADD_QUEUE,
    ANYONE,
    DROP_OPTIONAL_SKILLS,
    LOWER_PROFICIENCY,
    WaitingLine,
    Widening,
    given_back,
    widen,
)
from routing.core.sim_api import given as given_work

KINDS = ("web_chat", "email")
SKILLS = ("es", "billing", "tech")

demands = st.builds(
    CaseDemand,
    case_id=st.integers(1, 10_000),
    channel_kind=st.sampled_from(KINDS),
    required_skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), max_size=2),
    queue_ids=st.frozensets(st.integers(1, 3), max_size=2),
    open_to_all=st.booleans(),
    units=st.integers(1, 2),
    excluded_agents=st.frozensets(st.integers(1, 3), max_size=1),
    rank=st.floats(0, 1000).map(lambda r: round(r, 1)),
)
agents = st.builds(
    AgentState,
    agent_id=st.integers(1, 3),
    channel_kinds=st.frozensets(st.sampled_from(KINDS), min_size=1),
    capacity=st.fixed_dictionaries({k: st.integers(0, 3) for k in KINDS}),
    capacity_total=st.integers(0, 4),
    skills=st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5)),
    queue_ids=st.frozensets(st.integers(1, 3)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(demands, max_size=30, unique_by=lambda d: d.case_id), st.lists(st.integers(0, 29)), agents)
def test_the_line_gives_the_most_urgent_case_the_agent_may_take(waiting, gone, agent):
    line = WaitingLine()
    for demand in waiting:
        line.add(demand)
    left = list(waiting)
    for index in gone:  # some leave (taken by others, abandoned)
        if index < len(left):
            line.discard(left.pop(index).case_id)
    eligible = [d for d in left if exclusion_reason(d, agent) is None]
    expected = min(eligible, key=lambda d: (d.rank, d.case_id), default=None)
    assert line.first_for(agent) == expected
    assert len(line) == len(left)


def test_a_changed_demand_waits_under_its_new_profile_only():
    line = WaitingLine()
    spanish = CaseDemand(case_id=1, channel_kind="web_chat", required_skills={"es": 1}, rank=1.0)
    line.add(spanish)
    ana = AgentState(agent_id=1, channel_kinds=frozenset({"web_chat"}), capacity={"web_chat": 1}, capacity_total=1)
    assert line.first_for(ana) is None
    line.discard(1)
    widened, optional = widen(spanish, Widening(60, DROP_OPTIONAL_SKILLS), frozenset({"es"}))
    line.add(widened)
    assert line.first_for(ana) == widened and optional == frozenset()
    assert len(line) == 1


def test_overflow_steps_widen_as_the_router_does():
    case = CaseDemand(
        case_id=1,
        channel_kind="email",
        required_skills={"es": 4, "billing": 3},
        queue_ids=frozenset({1}),
        open_to_all=False,
    )
    lowered, optional = widen(case, Widening(60, LOWER_PROFICIENCY, amount=2), frozenset({"billing"}))
    assert lowered.required_skills == {"es": 4, "billing": 1} and optional == {"billing"}
    added, _ = widen(case, Widening(120, ADD_QUEUE, target_queue_id=2, target_team_id=7), frozenset())
    assert added.queue_ids == {1, 2} and added.team_ids == {7} and not added.open_to_all
    anyone, _ = widen(case, Widening(180, ANYONE), frozenset())
    assert anyone.open_to_all


def test_work_given_and_given_back_keeps_load_and_idle_time():
    ana = AgentState(agent_id=1, channel_kinds=frozenset({"web_chat"}), capacity={"web_chat": 2}, capacity_total=2)
    busy = given_work(given_work(ana, "web_chat", 1, 10.0), "web_chat", 1, 20.0)
    assert busy.load == {"web_chat": 2} and busy.open_cases == 2 and busy.idle_since == 20.0
    half = given_back(busy, "web_chat", 1, 30.0)
    assert half.free_units("web_chat") == 1 and half.idle_since == 20.0  # still working
    idle = given_back(half, "web_chat", 1, 40.0)
    assert idle.open_cases == 0 and idle.idle_since == 40.0
    assert ana.load == {}  # states are values: the original is unchanged
