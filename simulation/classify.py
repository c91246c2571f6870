"""Which queue and skills an arrival gets under a configuration: recorded
arrivals keep what they were given; generated ones go through the routing
rules (no message text, so rules with keywords never match), the queue's
and rule's skills and the customer's language, as
``routing.classify.classify_case`` does."""

from __future__ import annotations

from simulation.distributions import ScenarioError
from simulation.model import Rule, SimConfig, SimQueue
from simulation.traffic import Arrival


def _skills(arrival: Arrival, config: SimConfig, queue: SimQueue | None, rule: Rule | None) -> dict:
    """The queue's skills, the rule's, and the language's (as ``classify_case``)."""
    skills = dict(queue.required) if queue else {}
    for name, (minimum, optional) in (rule.skills if rule else {}).items():
        old = skills.get(name)
        skills[name] = (max(old[0], minimum), old[1] and optional) if old else (minimum, optional)
    language = config.languages.get(arrival.language) or config.languages.get(arrival.language.split("-")[0])
    if arrival.language and language and (rule is None or rule.add_language_skill):
        skills.setdefault(language, (1, False))
    return skills


def classify(arrival: Arrival, config: SimConfig) -> tuple[SimQueue | None, dict[str, tuple[int, bool]], int, bool]:
    """Queue, required skills (name -> (minimum, optional)), priority and
    may-interrupt of an arrival under a configuration, as the routing rules
    and the queue's skills would set them."""
    priority, may_interrupt, rule = arrival.priority, False, None
    if arrival.skills is not None:  # recorded: as it was classified then
        queue = config.queues.get(arrival.queue) if arrival.queue else None
        skills = dict(arrival.skills)
    elif arrival.queue is not None:
        queue = config.queues.get(arrival.queue)
        if queue is None:
            raise ScenarioError(f"no queue named {arrival.queue!r} in the configuration")
        skills = _skills(arrival, config, queue, None)
    else:
        tier = "vip" if arrival.vip else "standard"
        rule = next(
            (
                r
                for r in config.rules
                if not r.keywords
                and (not r.kinds or arrival.kind in r.kinds)
                and (not r.language or r.language == arrival.language)
                and (not r.tier or r.tier == tier)
            ),
            None,
        )
        queue = config.queues.get(rule.queue if rule else config.default_queues.get(arrival.kind, ""))
        if rule is not None:
            priority = rule.priority or priority
            may_interrupt = rule.may_interrupt
        skills = _skills(arrival, config, queue, rule)
    if queue is not None:
        for name in queue.optional_skills & skills.keys():
            skills[name] = (skills[name][0], True)
    return queue, skills, priority, may_interrupt
