"""The simulator against queueing theory: one queue, Poisson arrivals,
exponential handle times, c agents of capacity 1, first come first served,
nobody leaves — an M/M/c queue, whose probability of waiting and average
wait the Erlang C formula gives exactly.

Parameters: c = 10 agents, handle time 300 s on average, utilization 0.8
(96 arrivals an hour). Four fixed seeds of 30 simulated days each (about
272,000 cases, the first and last 1 % of each run left out) are pooled.
Tolerances: ±5 % relative on P(wait), ±10 % relative on the mean wait.
Across seeds one 30-day run's mean wait varies by about 8 % (its P(wait) by
about 4 %), so the pooled figures sit well inside the tolerances when the
simulator is right; and the same figures are far outside them for 9 or 11
agents, which the last test checks, so a wrong queue model fails here.
"""

from __future__ import annotations

import pytest

from simulation import model, traffic
from simulation.engine import simulate
from simulation.erlang import erlang_c, mean_wait
from simulation.scenario import from_dict

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg

AGENTS = 10
HANDLE = 300.0
UTILIZATION = 0.8
DAYS = 30
SEEDS = (1, 2, 3, 4)
ARRIVALS_PER_HOUR = UTILIZATION * AGENTS / HANDLE * 3600


def test_erlang_c_matches_known_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = utilization
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mean_wait(1, 0.5, 1.0) == pytest.approx(1.0)  # ρ/(μ-λ) = 0.5/0.5
    with pytest.raises(ValueError):
        erlang_c(2, 2.0)


@pytest.fixture(scope="module")
def pooled() -> tuple[float, float, int]:
    config = model.load(
        {
            "queues": [{"name": "Q", "auto_accept": True}],
            "agents": [{"username": f"a{i}", "capacities": {"voice": 1}, "capacity_total": 1} for i in range(AGENTS)],
        }
    )
    waits: list[float] = []
    for seed in SEEDS:
        scenario = from_dict(
            {
                "seed": seed,
                "hours": 24 * DAYS,
                "arrivals": {"voice": {"per_hour": [ARRIVALS_PER_HOUR] * 24, "mix": [{"queue": "Q"}]}},
                "handle_time": {"voice": {"dist": "exponential", "mean": HANDLE}},
                "shifts": {"default": [0, 24]},
            }
        )
        runs = simulate(config, traffic.generate(scenario), scenario).cases
        # The first 1 % warm up an empty system; the last 1 % may still wait when the last shift ends.
        runs = runs[len(runs) // 100 : -len(runs) // 100]
        assert all(run.assigned_at is not None for run in runs)  # nobody leaves, everyone is served
        waits += [run.assigned_at - run.arrival.at for run in runs]
    waited = sum(1 for w in waits if w > 1e-9) / len(waits)
    return waited, sum(waits) / len(waits), len(waits)


def test_probability_of_waiting_matches_erlang_c_within_5_percent(pooled):
    waited, _, n = pooled
    expected = erlang_c(AGENTS, ARRIVALS_PER_HOUR / 3600 * HANDLE)
    assert n > 250_000
    assert waited == pytest.approx(expected, rel=0.05), (waited, expected)


def test_mean_wait_matches_erlang_c_within_10_percent(pooled):
    _, average, _ = pooled
    expected = mean_wait(AGENTS, ARRIVALS_PER_HOUR / 3600, 1 / HANDLE)
    assert average == pytest.approx(expected, rel=0.10), (average, expected)


@pytest.mark.parametrize("agents", [AGENTS - 1, AGENTS + 1])
def test_the_tolerances_tell_one_agent_more_or_less_apart(pooled, agents):
    # The same figures against the formula for a different number of agents
    # (same arrivals and handle times): outside the tolerances.
    waited, average, _ = pooled
    load = ARRIVALS_PER_HOUR / 3600 * HANDLE
    assert waited != pytest.approx(erlang_c(agents, load), rel=0.05)
    assert average != pytest.approx(mean_wait(agents, ARRIVALS_PER_HOUR / 3600, 1 / HANDLE), rel=0.10)
