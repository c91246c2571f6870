"""Configuration A against configuration B on the same day of traffic."""

from __future__ import annotations

import time
from dataclasses import dataclass

from simulation import edits, model
from simulation.engine import simulate
from simulation.report import Summary, summarize
from simulation.scenario import Scenario
from simulation.traffic import Arrival


@dataclass(slots=True)
class Comparison:
    scenario: Scenario
    summaries: list[Summary]  # A, then B when there is one
    seconds: float  # wall time of the simulations


def compare(
    doc_a: dict,
    scenario: Scenario,
    arrivals: list[Arrival],
    *,
    doc_b: dict | None = None,
    labels: tuple[str, str] = ("A: today", "B: what if"),
) -> Comparison:
    """Simulate A; and B — ``doc_b`` (or A) with the scenario's what-if
    edits — when there is a B. Both see the same arrivals."""
    started = time.perf_counter()
    config_a = model.load(doc_a)  # checked before any time is spent
    runs = [(labels[0], config_a, None)]
    if doc_b is not None or scenario.what_if:
        edited, shifts = edits.apply(doc_b if doc_b is not None else doc_a, scenario.what_if)
        runs.append((labels[1], model.load(edited), shifts))
    summaries = [
        summarize(simulate(config, arrivals, scenario, shifts=shifts), label) for label, config, shifts in runs
    ]
    return Comparison(scenario=scenario, summaries=summaries, seconds=time.perf_counter() - started)
