"""A scenario file: the traffic of a day and how people behave, plus the
what-if edits that make configuration B. Every key is optional::

    seed: 7
    hours: 24                       # simulated hours of arrivals (generated traffic)
    arrivals:                       # generated traffic; without it, cases of --date are replayed
      web_chat:
        per_hour: {8: 120, 9: 300, 10: 320, 11: 280, 12: 200}   # or a list of 24 rates
        mix:                        # what the cases are, by weight
          - {queue: Chat, language: es, weight: 15}
          - {queue: Chat, weight: 85, priority: 3, vip: 0.05}
    handle_time: {web_chat: {dist: lognormal, mean: 420, sd: 300}, email: {dist: exponential, mean: 600}}
    patience: {web_chat: {dist: exponential, mean: 240}, voice: {dist: exponential, mean: 90}}
    reply_delay: {email: {dist: exponential, mean: 900}}   # assignment to first reply, asynchronous channels
    offers: {accept_probability: 0.95, delay: {dist: exponential, mean: 6}}
    shifts: {default: [8, 18], agents: {ana: [[9, 13], [14, 18]]}}   # hours of each simulated day
    what_if:                        # configuration B = A with these edits (simulation.edits)
      - add_agents: {count: 2, prefix: es-chat, skills: {lang-es: 3}, capacity: {web_chat: 3}, hours: [9, 12]}
      - drop_skill_after: {queue: Chat, skill: lang-es, after_seconds: 60}

Email and other asynchronous channels have no patience unless one is given:
customers there do not abandon.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from config.channel_kinds import CHANNEL_KINDS
from simulation.distributions import Distribution, ScenarioError, parse

DEFAULT_HANDLE = Distribution("exponential", 300.0)
Shift = tuple[float, float]  # hours from the start of the day


@dataclass(frozen=True, slots=True)
class CaseType:
    weight: float
    queue: str | None = None
    language: str = ""
    priority: int = 3
    vip: float = 0.0  # probability the customer is VIP


@dataclass(frozen=True, slots=True)
class Stream:
    """Generated arrivals of one channel kind."""

    kind: str
    per_hour: tuple[float, ...]  # 24 rates (cases per hour), by hour of the day
    mix: tuple[CaseType, ...]


@dataclass(slots=True)
class Scenario:
    name: str = "scenario"
    seed: int = 1
    hours: float = 24.0
    streams: list[Stream] = field(default_factory=list)
    handle_time: dict[str, Distribution] = field(default_factory=dict)
    patience: dict[str, Distribution] = field(default_factory=dict)
    reply_delay: dict[str, Distribution] = field(default_factory=dict)
    accept_probability: float = 1.0
    accept_delay: Distribution = Distribution("constant", 0.0)
    default_shifts: list[Shift] = field(default_factory=lambda: [(0.0, 24.0)])
    shifts: dict[str, list[Shift]] = field(default_factory=dict)
    what_if: list[dict] = field(default_factory=list)

    def handle(self, kind: str) -> Distribution:
        return self.handle_time.get(kind, DEFAULT_HANDLE)

    def shifts_of(self, username: str) -> list[Shift]:
        return self.shifts.get(username, self.default_shifts)


def _kind(kind: object, where: str) -> str:
    if kind not in CHANNEL_KINDS:
        raise ScenarioError(f"{where}: unknown channel kind {kind!r} (one of {', '.join(CHANNEL_KINDS)})")
    return kind  # type: ignore[return-value]


def _by_kind(spec: object, where: str) -> dict[str, Distribution]:
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: a mapping of channel kind to a distribution")
    return {_kind(kind, where): parse(value, f"{where}.{kind}") for kind, value in spec.items()}


def _rates(spec: object, where: str) -> tuple[float, ...]:
    if isinstance(spec, list):
        if len(spec) != 24:
            raise ScenarioError(f"{where}: a list of 24 hourly rates, or a mapping of hour to rate")
        items = list(enumerate(spec))
    elif isinstance(spec, dict):
        items = list(spec.items())
    else:
        raise ScenarioError(f"{where}: a list of 24 hourly rates, or a mapping of hour to rate")
    rates = [0.0] * 24
    for hour, rate in items:
        if not isinstance(hour, int) or not 0 <= hour <= 23:
            raise ScenarioError(f"{where}: hours are 0 to 23, not {hour!r}")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
            raise ScenarioError(f"{where}: hour {hour}: a rate must be a non-negative number")
        rates[hour] = float(rate)
    return tuple(rates)


def _mix(spec: object, where: str) -> tuple[CaseType, ...]:
    if spec is None:
        return (CaseType(weight=1.0),)
    if not isinstance(spec, list) or not spec or not all(isinstance(item, dict) for item in spec):
        raise ScenarioError(f"{where}: a list of case types ({{queue, language, priority, vip, weight}})")
    types = []
    for item in spec:
        weight, priority, vip = item.get("weight", 1), item.get("priority", 3), item.get("vip", 0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            raise ScenarioError(f"{where}: 'weight' must be a positive number")
        if priority not in (1, 2, 3, 4):
            raise ScenarioError(f"{where}: 'priority' is 1 (urgent) to 4 (low)")
        if isinstance(vip, bool) or not isinstance(vip, int | float) or not 0 <= vip <= 1:
            raise ScenarioError(f"{where}: 'vip' is a probability from 0 to 1")
        queue = item.get("queue")
        if queue is not None and not isinstance(queue, str):
            raise ScenarioError(f"{where}: 'queue' is a queue's name")
        types.append(CaseType(float(weight), queue, str(item.get("language", "")).lower(), priority, float(vip)))
    return tuple(types)


def shift_list(spec: object, where: str) -> list[Shift]:
    if isinstance(spec, list) and len(spec) == 2 and all(isinstance(x, int | float) for x in spec):
        spec = [spec]
    if not isinstance(spec, list):
        raise ScenarioError(f"{where}: [start, end] in hours, or a list of them")
    out = []
    for item in spec:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in item)
            or not 0 <= item[0] < item[1] <= 48
        ):
            raise ScenarioError(f"{where}: a shift is [start, end] in hours, 0 <= start < end <= 48")
        out.append((float(item[0]), float(item[1])))
    return out


def loads(text: str, *, name: str = "scenario") -> Scenario:
    """A scenario from YAML text (raises ScenarioError with a message for a person)."""
    try:
        doc = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise ScenarioError(f"not valid YAML: {exc}") from None
    return from_dict(doc or {}, name=name)


def from_dict(doc: object, *, name: str = "scenario") -> Scenario:
    if not isinstance(doc, dict):
        raise ScenarioError("a scenario is a mapping (seed, arrivals, handle_time, ...)")
    known = {
        "name",
        "seed",
        "hours",
        "arrivals",
        "handle_time",
        "patience",
        "reply_delay",
        "offers",
        "shifts",
        "what_if",
    }
    unknown = sorted(set(doc) - known)
    if unknown:
        raise ScenarioError(f"unknown keys {', '.join(map(str, unknown))} (known: {', '.join(sorted(known))})")
    scenario = Scenario(name=str(doc.get("name", name)))
    seed, hours = doc.get("seed", 1), doc.get("hours", 24)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError("'seed' must be a whole number")
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 366:
        raise ScenarioError("'hours' must be a positive number of hours")
    scenario.seed, scenario.hours = seed, float(hours)
    arrivals = doc.get("arrivals") or {}
    if not isinstance(arrivals, dict):
        raise ScenarioError("'arrivals': a mapping of channel kind to {per_hour, mix}")
    for kind, spec in arrivals.items():
        where = f"arrivals.{kind}"
        _kind(kind, "arrivals")
        if not isinstance(spec, dict) or "per_hour" not in spec:
            raise ScenarioError(f"{where}: needs 'per_hour'")
        scenario.streams.append(
            Stream(kind, _rates(spec["per_hour"], f"{where}.per_hour"), _mix(spec.get("mix"), f"{where}.mix"))
        )
    scenario.handle_time = _by_kind(doc.get("handle_time"), "handle_time")
    scenario.patience = _by_kind(doc.get("patience"), "patience")
    scenario.reply_delay = _by_kind(doc.get("reply_delay"), "reply_delay")
    offers = doc.get("offers") or {}
    if not isinstance(offers, dict):
        raise ScenarioError("'offers': {accept_probability, delay}")
    p = offers.get("accept_probability", 1.0)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
        raise ScenarioError("offers.accept_probability: a probability above 0, at most 1")
    scenario.accept_probability = float(p)
    if "delay" in offers:
        scenario.accept_delay = parse(offers["delay"], "offers.delay")
    shifts = doc.get("shifts") or {}
    if not isinstance(shifts, dict):
        raise ScenarioError("'shifts': {default: [start, end], agents: {username: [[start, end], ...]}}")
    if "default" in shifts:
        scenario.default_shifts = shift_list(shifts["default"], "shifts.default")
    for username, spec in (shifts.get("agents") or {}).items():
        scenario.shifts[str(username)] = shift_list(spec, f"shifts.agents.{username}")
    what_if = doc.get("what_if") or []
    if not isinstance(what_if, list) or not all(isinstance(edit, dict) and len(edit) == 1 for edit in what_if):
        raise ScenarioError("'what_if': a list of edits, each a mapping with one key (add_agents, ...)")
    scenario.what_if = what_if
    return scenario
