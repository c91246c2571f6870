"""The event loop: routing through the core, capacity, offers, abandonment,
overflow, shifts and occupancy, on hand-made days."""

from __future__ import annotations

import pytest

from routing.core import AgentPool, choose_agent
from simulation import edits, model
from simulation.engine import Simulation, simulate
from simulation.traffic import HOUR
from tests.simulation.helpers import agent, arrival, config, doc, scenario

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg


def test_a_case_goes_to_the_agent_the_core_chooses():
    # Most available: bea has more free chat units than ana.
    cfg = config([agent("ana", capacity={"web_chat": 1}), agent("bea", capacity={"web_chat": 3}, total=3)])
    sim = Simulation(cfg, [arrival(1, 10.0)], scenario())
    states = list(sim.states.values())
    expected = choose_agent(sim.runs[1].demand, states)
    run = sim.run().cases[0]
    assert run.agent == expected.agent_id == cfg.agents[1].agent_id
    assert run.assigned_at == 10.0


def test_skills_are_required_and_cases_wait_for_a_skilled_agent():
    cfg = config([agent("ana"), agent("eva", skills={"lang-es": 3}, capacity={"web_chat": 1}, total=1)])
    arrivals = [arrival(1, 0.0, language="es"), arrival(2, 1.0, language="es"), arrival(3, 2.0)]
    runs = {r.arrival.case_id: r for r in simulate(cfg, arrivals, scenario()).cases}
    eva = cfg.agents[1].agent_id
    assert runs[1].agent == eva and runs[1].assigned_at == 0.0
    # eva is full: the second Spanish case waits for her, though ana is free.
    assert runs[2].agent == eva and runs[2].assigned_at == pytest.approx(600.0)
    assert runs[3].agent == cfg.agents[0].agent_id and runs[3].assigned_at == 2.0


class Checked(Simulation):
    """Fails the moment an agent holds more than its capacity."""

    def _change(self, agent_id, state, units, t):
        assert all(state.free_units(k) >= 0 for k in state.capacity), (agent_id, state.load)
        assert state.free_total >= 0
        super()._change(agent_id, state, units, t)


def test_capacity_is_never_exceeded_and_every_case_is_served_in_a_busy_hour():
    cfg = config([agent(f"a{i}", capacity={"web_chat": 2, "email": 1}, total=2) for i in range(5)])
    arrivals = [arrival(n, n * 20.0, kind="web_chat" if n % 3 else "email", handle=300.0) for n in range(1, 181)]
    runs = Checked(cfg, arrivals, scenario()).run().cases
    assert all(r.state == "done" for r in runs)
    assert max(r.assigned_at - r.arrival.at for r in runs) > 0  # some waited: capacity was binding


def test_nobody_on_shift_means_chats_are_abandoned_and_emails_wait():
    cfg = config([agent("ana")])
    sc = scenario(shifts={"default": [20, 22]})
    runs = simulate(cfg, [arrival(1, 60.0, patience=120.0), arrival(2, 60.0, kind="email")], sc).cases
    chat, email = runs
    assert chat.state == "abandoned" and chat.ended_at == pytest.approx(180.0)
    assert email.state == "done" and email.assigned_at == pytest.approx(20 * HOUR)


def test_added_agents_work_only_in_their_hours():
    base = doc([agent("ana", capacity={"web_chat": 1}, total=1)])
    edited, shifts = edits.apply(
        base, [{"add_agents": {"count": 2, "prefix": "x", "capacity": {"web_chat": 1}, "hours": [9, 12]}}]
    )
    cfg = model.load(edited)
    extra = {a.agent_id for a in cfg.agents if a.username.startswith("x-")}
    arrivals = [arrival(n, n * 300.0, handle=900.0) for n in range(1, 24 * 12)]
    runs = simulate(cfg, arrivals, scenario(), shifts=shifts).cases
    by_extra = [r for r in runs if r.agent in extra]
    assert by_extra
    assert all(9 * HOUR <= r.assigned_at < 12 * HOUR for r in by_extra)


def test_drop_skill_after_60_seconds_lets_others_take_the_case():
    base = doc([agent("ana")])
    arrivals = [arrival(1, 0.0, language="es")]
    a = simulate(model.load(base), arrivals, scenario()).cases[0]
    assert a.assigned_at is None  # nobody speaks Spanish
    edited, _ = edits.apply(base, [{"drop_skill_after": {"queue": "Chat", "skill": "lang-es", "after_seconds": 60}}])
    b = simulate(model.load(edited), arrivals, scenario()).cases[0]
    assert b.assigned_at == pytest.approx(60.0)
    assert b.demand.required_skills == {}


def test_a_declined_offer_goes_to_someone_else_never_back():
    cfg = config([agent(f"a{i}") for i in range(4)])
    arrivals = [arrival(n, n * 60.0) for n in range(1, 200)]
    runs = simulate(cfg, arrivals, scenario(offers={"accept_probability": 0.5, "delay": 5})).cases
    again = [r for r in runs if r.offers > 1]
    assert again
    for run in again:
        assert run.agent not in run.demand.excluded_agents
        # Each decline excludes one more agent; declined by all four, it waits.
        assert len(run.demand.excluded_agents) == run.offers - (run.assigned_at is not None)
        # Each offer took its 5 s (the case may also have waited for room in between).
        assert run.assigned_at is None or run.assigned_at >= run.arrival.at + 5 * run.offers - 1e-9


def test_an_offer_nobody_answers_times_out_at_the_queue_timeout():
    cfg = config([agent("ana"), agent("bea")], queues=[{"name": "Chat", "offer_timeout_seconds": 30}])
    sc = scenario(offers={"delay": 40})  # always too slow
    run = simulate(cfg, [arrival(1, 0.0)], sc).cases[0]
    assert run.offers == 2 and run.assigned_at is None
    assert len(run.demand.excluded_agents) == 2


def test_vip_is_served_before_a_standard_case_that_waited_as_long():
    cfg = config([agent("ana", capacity={"web_chat": 1}, total=1)])
    arrivals = [arrival(1, 0.0), arrival(2, 10.0), arrival(3, 20.0, vip=True)]
    runs = {r.arrival.case_id: r for r in simulate(cfg, arrivals, scenario()).cases}
    assert runs[3].assigned_at < runs[2].assigned_at


def test_occupancy_is_held_units_over_capacity_on_shift():
    cfg = config([agent("ana", capacity={"web_chat": 1}, total=1)])
    arrivals = [arrival(n, n * HOUR, handle=HOUR / 2) for n in range(0, 24)]
    outcome = simulate(cfg, arrivals, scenario(shifts={"default": [0, 24]}))
    assert outcome.unit_seconds / outcome.capacity_seconds == pytest.approx(0.5)
    assert outcome.agent_seconds == pytest.approx(24 * HOUR)


def test_the_pool_is_kept_current_not_rebuilt():
    # After a run, the pool holds exactly the agents on shift, with the loads they hold.
    cfg = config([agent("ana"), agent("bea")])
    sim = Simulation(cfg, [arrival(1, 0.0, handle=10 * HOUR)], scenario(shifts={"default": [0, 5]}))
    pool_before = sim.pool
    sim.run()
    assert sim.pool is pool_before and isinstance(sim.pool, AgentPool)
    assert sim.pool.states == {}  # every shift ended
    assert sum(sum(s.load.values()) for s in sim.states.values()) == 0
