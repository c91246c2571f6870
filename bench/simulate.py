"""simulate: a one-day what-if simulation of 50,000 cases and 200 agents.

No database: the simulator is pure Python over ``routing.core``. A fixed
seed builds the same contact center every run: 200 agents in two shifts
(06–15 and 12–21), 4 teams, 8 queues (one per channel kind and team, with
overflow steps to a shared queue after 2 minutes), 12 skills of which 4 are
languages; 50,000 cases over the day (chat, email, voice, WhatsApp, SMS),
peaking late morning, with lognormal handle times, customers abandoning
chat and voice, 95 % of offers accepted after a few seconds.

- ``day_seconds``: wall time of ``simulation.engine.simulate`` for the day
  (traffic generated beforehand, not counted). The target is under 60 s.
- ``reference_seconds``: the same arrivals and handle times through the bare
  event loop (``heapq``, one FIFO line, the first free agent takes the
  case, no skills, no offers) — the cost of the events themselves, measured
  in the same run. ``ratio`` is day_seconds / reference_seconds: what
  routing through the core costs on top of the event loop.
- ``speedup``: simulated time over wall time (a day is 86,400 s).

Figures are the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import heapq
import os
import random
import statistics
import time
from collections import deque

from bench.results import Figure, PartResult

TITLE = "what-if simulation: one day, 50,000 cases and 200 agents through routing.core, vs the bare event loop"

KINDS = ("web_chat", "email", "voice", "whatsapp", "sms")
LANGUAGES = (("en", 0.70), ("es", 0.15), ("de", 0.10), ("fr", 0.05))
TEAMS = ("North", "South", "East", "West")
PRODUCTS = ("billing", "orders", "returns", "tech", "accounts", "shipping", "warranty", "loyalty")
SHAPE = (0, 0, 0, 0, 0, 0, 2, 4, 7, 9, 10, 10, 9, 8, 8, 8, 7, 6, 5, 4, 3, 0, 0, 0)  # arrivals by hour


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", type=int, default=50_000, help="cases in the day (default 50,000)")
    parser.add_argument("--agents", type=int, default=200, help="agents (default 200)")
    parser.add_argument("--repeat", type=int, default=3, help="runs to take the median of (default 3)")
    parser.add_argument("--seed", type=int, default=12)


def contact_center(agents: int, seed: int) -> dict:
    """An export_config document."""
    rng = random.Random(seed)
    skills = [{"name": p} for p in PRODUCTS] + [
        {"name": f"lang-{code}", "kind": "language", "language_code": code} for code, _ in LANGUAGES
    ]
    queues = [{"name": "Shared", "priority": 4}]
    for team in TEAMS:
        for kind in KINDS:
            queues.append(
                {
                    "name": f"{team} {kind}",
                    "team": team,
                    "priority": 1 if kind == "voice" else 2 if kind == "web_chat" else 3,
                    "case_units": 3 if kind == "voice" else 1,
                    "auto_accept_channel_kinds": ["email"],
                    "offer_timeout_seconds": 30,
                    "wrap_up_seconds": 30,
                    "agent_selection": rng.choice(["most_available", "least_active", "longest_idle"]),
                    "required_skills": [{"skill": rng.choice(PRODUCTS), "min_proficiency": 1, "optional": True}],
                    "overflow_steps": [
                        {"after_seconds": 60, "action": "lower_proficiency", "amount": 1},
                        {"after_seconds": 120, "action": "drop_optional_skills"},
                        {"after_seconds": 180, "action": "add_queue", "target_queue": "Shared"},
                    ],
                }
            )
    people = []
    for n in range(agents):
        languages = {"lang-en": 5}
        for code, share in LANGUAGES[1:]:
            if rng.random() < share * 1.5:
                languages[f"lang-{code}"] = rng.randint(2, 5)
        people.append(
            {
                "username": f"agent{n:03d}",
                "teams": [TEAMS[n % len(TEAMS)]],
                "capacity_total": 4,
                "capacities": {"web_chat": 3, "email": 2, "voice": 3, "whatsapp": 2, "sms": 2},
                "skills": {**{p: rng.randint(1, 5) for p in rng.sample(PRODUCTS, 4)}, **languages},
            }
        )
    rules = [
        {"name": f"{team} {kind}", "order": i, "match_channel_kinds": [kind], "queue": f"{team} {kind}"}
        for i, (team, kind) in enumerate((t, k) for t in TEAMS for k in KINDS)
    ]
    return {
        "skills": skills,
        "teams": [{"name": t} for t in TEAMS],
        "agents": people,
        "queues": queues,
        "routing_rules": rules,
        "sla_policies": [
            {"name": "voice", "match_channel_kinds": ["voice"], "first_response_minutes": 1},
            {"name": "chat", "match_channel_kinds": ["web_chat"], "first_response_minutes": 2},
            {"name": "rest", "first_response_minutes": 60},
        ],
    }


def scenario_doc(cases: int, seed: int) -> dict:
    weights = {"web_chat": 0.45, "email": 0.2, "voice": 0.15, "whatsapp": 0.12, "sms": 0.08}
    total = sum(SHAPE)
    arrivals = {}
    for kind, share in weights.items():
        mix = [
            {"queue": f"{team} {kind}", "language": code, "weight": lang_share, "vip": 0.05}
            for team in TEAMS
            for code, lang_share in LANGUAGES
        ]
        arrivals[kind] = {"per_hour": [cases * share * s / total for s in SHAPE], "mix": mix}
    return {
        "seed": seed,
        "arrivals": arrivals,
        "handle_time": {
            "web_chat": {"dist": "lognormal", "mean": 480, "sd": 300},
            "email": {"dist": "lognormal", "mean": 300, "sd": 200},
            "voice": {"dist": "exponential", "mean": 240},
            "whatsapp": {"dist": "lognormal", "mean": 400, "sd": 300},
            "sms": {"dist": "lognormal", "mean": 200, "sd": 100},
        },
        "patience": {"web_chat": {"dist": "exponential", "mean": 300}, "voice": {"dist": "exponential", "mean": 120}},
        "reply_delay": {"email": {"dist": "exponential", "mean": 600}},
        "offers": {"accept_probability": 0.95, "delay": {"dist": "exponential", "mean": 4}},
        "shifts": {"default": [6, 15]},
    }


def bare_loop(arrivals, agents: int) -> float:
    """The same arrivals and handle times, first come first served to the
    first free agent: only the event loop. Returns seconds."""
    started = time.perf_counter()
    heap: list[tuple[float, int, int, float]] = [(a.at, 0, n, a.handle) for n, a in enumerate(arrivals)]
    heapq.heapify(heap)
    free = list(range(agents))
    line: deque[float] = deque()
    while heap:
        t, kind, subject, handle = heapq.heappop(heap)
        if kind == 0:
            line.append(handle)
        else:
            free.append(subject)
        while free and line:
            heapq.heappush(heap, (t + line.popleft(), 1, free.pop(), 0.0))
    return time.perf_counter() - started


def measure(cases: int, agents: int, seed: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from simulation import model
    from simulation.engine import simulate
    from simulation.scenario import from_dict
    from simulation.traffic import generate

    config = model.load(contact_center(agents, seed))
    scenario = from_dict(scenario_doc(cases, seed))
    half = {f"agent{n:03d}": [(12.0, 21.0)] for n in range(agents) if n % 2}
    arrivals = generate(scenario)
    started = time.perf_counter()
    outcome = simulate(config, arrivals, scenario, shifts=half)
    seconds = time.perf_counter() - started
    answered = sum(1 for run in outcome.cases if run.assigned_at is not None)
    return {
        "seconds": seconds,
        "reference": bare_loop(arrivals, agents),
        "cases": len(arrivals),
        "answered": answered,
        "events": outcome.events,
        "occupancy": outcome.unit_seconds / outcome.capacity_seconds,
    }


def run(options: argparse.Namespace, stack) -> PartResult:
    runs = []
    for n in range(options.repeat):
        result = measure(options.cases, options.agents, options.seed)
        runs.append(result)
        print(
            f"  run {n + 1}: {result['cases']:,} cases, {result['events']:,} events in {result['seconds']:.1f} s "
            f"(bare loop {result['reference']:.2f} s); answered {result['answered']:,}, "
            f"occupancy {100 * result['occupancy']:.0f} %",
            flush=True,
        )
    seconds = statistics.median(r["seconds"] for r in runs)
    reference = statistics.median(r["reference"] for r in runs)
    last = runs[-1]
    result = PartResult(
        part="simulate",
        figures=[
            Figure("day_seconds", seconds, "s", reference, "reference_seconds", "ratio"),
            Figure("speedup", 86_400 / seconds, "× real time"),
        ],
        facts={"cases": last["cases"], "agents": options.agents, "events": last["events"]},
    )
    if seconds >= 60:
        result.notes.append(f"over the 60 s target: {seconds:.1f} s")
    return result
