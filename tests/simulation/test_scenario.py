"""Scenario files, distributions, generated traffic and what-if edits."""

from __future__ import annotations

import random
import statistics

import pytest

from simulation import distributions, edits, model
from simulation.distributions import ScenarioError
from simulation.scenario import loads
from simulation.traffic import HOUR, generate
from tests.simulation.helpers import agent, doc

pytestmark = pytest.mark.pure  # no database: runs once, in the SQLite leg


@pytest.mark.parametrize(
    "text, message",
    [
        ("[1, 2]", "a scenario is a mapping"),
        ("arrivals: {fax: {per_hour: [1]}}", "unknown channel kind 'fax'"),
        ("arrivals: {web_chat: {per_hour: [1, 2]}}", "a list of 24 hourly rates"),
        ("arrivals: {web_chat: {per_hour: {25: 3}}}", "hours are 0 to 23"),
        ("arrivals: {web_chat: {per_hour: {9: -1}}}", "non-negative"),
        ("arrivals: {web_chat: {per_hour: {9: 1}, mix: [{priority: 7}]}}", "'priority' is 1 (urgent) to 4"),
        ("handle_time: {web_chat: {dist: gamma}}", "unknown dist 'gamma'"),
        ("handle_time: {web_chat: {dist: exponential}}", "'mean' must be"),
        ("offers: {accept_probability: 1.5}", "a probability above 0"),
        ("shifts: {default: [18, 8]}", "0 <= start < end"),
        ("colour: blue", "unknown keys colour"),
        ("seed: [", "not valid YAML"),
        ("what_if: [{add_agents: {}, set_capacity: {}}]", "each a mapping with one key"),
    ],
)
def test_a_bad_scenario_is_refused_with_a_message(text, message):
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        loads(text)


def test_distributions_have_the_means_they_are_given():
    rng = random.Random(5)
    for spec, mean in [
        ({"dist": "exponential", "mean": 300}, 300),
        ({"dist": "lognormal", "mean": 420, "sd": 300}, 420),
        ({"dist": "uniform", "low": 30, "high": 90}, 60),
        (45, 45),
    ]:
        dist = distributions.parse(spec, "test")
        assert dist.mean == pytest.approx(mean)
        assert statistics.fmean(dist.sample(rng) for _ in range(40_000)) == pytest.approx(mean, rel=0.03)


def test_lognormal_takes_its_spread_from_sd():
    dist = distributions.parse({"dist": "lognormal", "mean": 420, "sd": 300}, "test")
    rng = random.Random(9)
    assert statistics.stdev(dist.sample(rng) for _ in range(60_000)) == pytest.approx(300, rel=0.06)


def test_generated_arrivals_follow_the_hourly_rates_and_the_mix():
    scenario = loads(
        """
        seed: 3
        arrivals:
          web_chat:
            per_hour: {9: 2000, 10: 500}
            mix: [{queue: Chat, language: es, weight: 1}, {queue: Chat, weight: 3}]
          email: {per_hour: {10: 1000}}
        handle_time: {web_chat: 60}
        patience: {web_chat: {dist: exponential, mean: 100}}
        """
    )
    arrivals = generate(scenario)
    assert [a.at for a in arrivals] == sorted(a.at for a in arrivals)
    chats = [a for a in arrivals if a.kind == "web_chat"]
    at_nine = sum(1 for a in chats if 9 * HOUR <= a.at < 10 * HOUR)
    assert at_nine == pytest.approx(2000, rel=0.08)  # Poisson: sd ≈ 45
    assert sum(1 for a in chats if 10 * HOUR <= a.at < 11 * HOUR) == pytest.approx(500, rel=0.15)
    assert all(9 * HOUR <= a.at < 11 * HOUR for a in chats)
    assert sum(1 for a in chats if a.language == "es") / len(chats) == pytest.approx(0.25, abs=0.03)
    emails = [a for a in arrivals if a.kind == "email"]
    assert len(emails) == pytest.approx(1000, rel=0.1)
    assert all(a.patience is None for a in emails) and all(a.patience is not None for a in chats)
    assert all(a.handle == 60 for a in chats)
    # The same seed, the same day.
    assert [(a.at, a.kind) for a in generate(scenario)] == [(a.at, a.kind) for a in arrivals]


def test_inter_arrival_times_are_exponential():
    scenario = loads("seed: 4\nhours: 100\narrivals: {voice: {per_hour: " + str([360] * 24) + "}}")
    times = [a.at for a in generate(scenario)]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert statistics.fmean(gaps) == pytest.approx(10.0, rel=0.03)
    # Exponential: the standard deviation equals the mean.
    assert statistics.stdev(gaps) == pytest.approx(10.0, rel=0.05)


def test_edits_change_a_copy_of_the_configuration():
    base = doc(
        [agent("ana", teams=["Support"]), agent("ben")],
        queues=[{"name": "Chat", "required_skills": [{"skill": "lang-es", "min_proficiency": 2}]}, {"name": "Mail"}],
    )
    edited, shifts = edits.apply(
        base,
        [
            {
                "add_agents": {
                    "count": 2,
                    "prefix": "es",
                    "skills": {"lang-es": 4},
                    "hours": [9, 12],
                    "queues": ["Chat"],
                }
            },
            {"set_capacity": {"team": "Support", "capacity": {"web_chat": 5}, "capacity_total": 6}},
            {"drop_skill_after": {"queue": "Chat", "skill": "lang-es", "after_seconds": 60}},
            {"add_overflow": {"queue": "Mail", "after_seconds": 300, "action": "add_queue", "target_queue": "Chat"}},
            {"set_queue": {"queue": "Chat", "agent_selection": "longest_idle"}},
            {"remove_agents": {"agents": ["ben"]}},
        ],
    )
    assert [a["username"] for a in base["agents"]] == ["ana", "ben"]  # the original is untouched
    assert [a["username"] for a in edited["agents"]] == ["ana", "es-1", "es-2"]
    assert shifts == {"es-1": [(9.0, 12.0)], "es-2": [(9.0, 12.0)]}
    cfg = model.load(edited)
    ana, es1, _ = cfg.agents
    assert ana.capacity["web_chat"] == 5 and ana.capacity_total == 6
    assert es1.skills == {"lang-es": 4} and cfg.queues["Chat"].queue_id in es1.queue_ids
    chat = cfg.queues["Chat"]
    assert chat.required["lang-es"] == (2, True) and "lang-es" in chat.optional_skills
    assert [(s.after_seconds, s.action) for s in chat.steps] == [(60, "drop_optional_skills")]
    assert chat.selection == "longest_idle"
    assert cfg.queues["Mail"].steps[0].target_queue_id == chat.queue_id


@pytest.mark.parametrize(
    "edit, message",
    [
        ({"add_agents": {"count": 0}}, "'count' is 1"),
        ({"add_agents": {"capacity": {"fax": 1}}}, "unknown channel kind 'fax'"),
        ({"add_agents": {"prefix": "an", "count": 1, "teams": ["Nope"]}}, "no team named 'Nope'"),
        ({"set_capacity": {"agents": ["zoe"], "capacity": {"web_chat": 1}}}, "no agents named zoe"),
        ({"drop_skill_after": {"queue": "Nope", "skill": "x", "after_seconds": 1}}, "no queue named 'Nope'"),
        ({"add_overflow": {"queue": "Chat", "after_seconds": 1, "action": "pray"}}, "'action' is one of"),
        ({"set_queue": {"queue": "Chat", "colour": "red"}}, "cannot set 'colour'"),
        ({"teleport": {}}, "unknown edit 'teleport'"),
    ],
)
def test_a_bad_edit_is_refused_with_a_message(edit, message):
    with pytest.raises(ScenarioError, match=message):
        edits.apply(doc([agent("ana")]), [edit])


def test_an_offline_agent_works_every_channel_it_has_capacity_for():
    cfg = model.load(
        {
            "presence_statuses": [{"name": "Chat only", "channel_kinds": ["web_chat"]}, {"name": "Offline"}],
            "agents": [
                {"username": "ana", "status": "Chat only", "capacities": {"web_chat": 2, "email": 1}},
                {"username": "ben", "status": "Offline", "capacities": {"web_chat": 2, "email": 1}},
            ],
        }
    )
    assert cfg.agents[0].channel_kinds == {"web_chat"}
    assert cfg.agents[1].channel_kinds == {"web_chat", "email"}
