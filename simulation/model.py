"""A configuration as the simulator reads it: the queues, agents, rules and
SLA targets of an ``export_config`` document (natural keys: names and
usernames), turned into the plain data ``routing.core`` decides on.

The document is a mapping with the keys ``skills, teams,
presence_statuses, agents, queues, routing_rules, routing_settings,
sla_policies, channels`` (others are ignored), as ``configio.export``
writes it. An agent works the channel kinds it has capacity for (an export
carries no presence; a document that names the agent's ``status`` narrows
them to what that status enables).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from routing.core import Selection
from routing.core.sim_api import ADD_QUEUE, ADD_TEAM, Widening
from simulation.distributions import ScenarioError

SYNCHRONOUS = frozenset({"web_chat", "voice"})  # the first response is the agent picking up


@dataclass(slots=True)
class SimQueue:
    queue_id: int
    name: str
    priority: int = 3
    team_id: int | None = None
    open_to_all: bool = True
    selection: Selection = Selection.MOST_AVAILABLE
    offer_timeout: float = 60.0
    auto_accept: bool = False
    auto_accept_kinds: frozenset[str] = frozenset()
    case_units: int = 1
    wrap_up: float = 0.0
    required: dict[str, tuple[int, bool]] = field(default_factory=dict)  # skill -> (minimum, optional)
    optional_skills: frozenset[str] = frozenset()  # made optional by a what-if edit, whatever requires them
    steps: list[Widening] = field(default_factory=list)

    def auto_accepts(self, kind: str) -> bool:
        return self.auto_accept or kind in self.auto_accept_kinds


@dataclass(slots=True)
class SimAgent:
    agent_id: int
    username: str
    channel_kinds: frozenset[str]
    capacity: dict[str, int]
    capacity_total: int
    skills: dict[str, int]
    queue_ids: frozenset[int]
    team_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class SlaTarget:
    first_response_seconds: float
    priorities: frozenset[int] = frozenset()
    tiers: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    queues: frozenset[str] = frozenset()

    def matches(self, *, priority: int, vip: bool, kind: str, queue: str | None) -> bool:
        tier = "vip" if vip else "standard"
        return (
            (not self.priorities or priority in self.priorities)
            and (not self.tiers or tier in self.tiers)
            and (not self.kinds or kind in self.kinds)
            and (not self.queues or queue in self.queues)
        )


@dataclass(frozen=True, slots=True)
class Rule:
    """A routing rule, for generated traffic (no message text: rules with
    keywords never match)."""

    kinds: frozenset[str]
    language: str
    tier: str
    keywords: bool
    queue: str
    priority: int | None
    add_language_skill: bool
    may_interrupt: bool
    skills: dict[str, tuple[int, bool]]


@dataclass(slots=True)
class SimConfig:
    queues: dict[str, SimQueue]
    agents: list[SimAgent]
    aging_seconds: float = 300.0
    sla: list[SlaTarget] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    languages: dict[str, str] = field(default_factory=dict)  # language code -> skill name
    default_queues: dict[str, str] = field(default_factory=dict)  # channel kind -> its first channel's queue
    not_simulated: list[str] = field(default_factory=list)  # settings present but not modelled

    def first_response_target(self, *, priority: int, vip: bool, kind: str, queue: str | None) -> float | None:
        for target in self.sla:
            if target.matches(priority=priority, vip=vip, kind=kind, queue=queue):
                return target.first_response_seconds
        return None


# --- Reading a document ----------------------------------------------------------


def _list(doc: dict, key: str) -> list[dict]:
    value = doc.get(key) or []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ScenarioError(f"configuration: '{key}' must be a list of mappings")
    return value


def _levels(value: object, where: str, key: str = "proficiency") -> dict[str, int]:
    """``{name: level}`` or ``[{skill: name, proficiency: level}]``."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = [(item.get("skill") or item.get("name"), item.get(key, item.get("units"))) for item in value]
    elif value is None:
        return {}
    else:
        raise ScenarioError(f"{where}: a mapping of name to number")
    out = {}
    for name, level in items:
        if not isinstance(name, str) or isinstance(level, bool) or not isinstance(level, int) or level < 0:
            raise ScenarioError(f"{where}: {name!r}: a whole number")
        out[name] = level
    return out


def _skills(value: object, where: str) -> dict[str, tuple[int, bool]]:
    """``[{skill, min_proficiency, optional}]`` or ``{name: minimum}``."""
    if isinstance(value, dict):
        return {name: (int(minimum), False) for name, minimum in _levels(value, where).items()}
    out = {}
    for item in value or []:
        name = item.get("skill") or item.get("name")
        if not isinstance(name, str):
            raise ScenarioError(f"{where}: each required skill needs 'skill'")
        out[name] = (int(item.get("min_proficiency", 1)), bool(item.get("optional", False)))
    return out


def _steps(queue: dict, queue_ids: dict[str, int], queue_teams: dict[str, str | None], teams: dict[str, int]):
    steps = []
    for step in queue.get("overflow_steps") or []:
        action = step.get("action")
        target_queue = step.get("target_queue")
        target_team = step.get("target_team")
        if action == ADD_QUEUE and target_queue not in queue_ids:
            raise ScenarioError(f"queue {queue['name']!r}: overflow to unknown queue {target_queue!r}")
        if action == ADD_TEAM and target_team not in teams:
            raise ScenarioError(f"queue {queue['name']!r}: overflow to unknown team {target_team!r}")
        team = target_team if action == ADD_TEAM else queue_teams.get(target_queue) if target_queue else None
        steps.append(
            Widening(
                after_seconds=float(step.get("after_seconds", 0)),
                action=action,
                amount=int(step.get("amount", 1)),
                target_queue_id=queue_ids.get(target_queue) if target_queue else None,
                target_team_id=teams.get(team) if team else None,
                target_open_to_all=False,
            )
        )
    return sorted(steps, key=lambda s: s.after_seconds)


def load(doc: dict) -> SimConfig:
    """The simulator's configuration from an ``export_config`` document."""
    if not isinstance(doc, dict):
        raise ScenarioError("configuration: a mapping with 'agents', 'queues', ...")
    teams = {team["name"]: n for n, team in enumerate(_list(doc, "teams"), start=1)}
    raw_queues = [q for q in _list(doc, "queues") if q.get("is_active", True)]
    queue_ids = {q["name"]: n for n, q in enumerate(raw_queues, start=1)}
    members: dict[str, set[int]] = {}  # username -> queue ids served directly
    for q in raw_queues:
        for username in q.get("agents") or []:
            members.setdefault(username, set()).add(queue_ids[q["name"]])
    queue_teams = {q["name"]: q.get("team") for q in raw_queues}
    queues = {}
    for q in raw_queues:
        if q.get("team") and q["team"] not in teams:
            raise ScenarioError(f"queue {q['name']!r}: unknown team {q['team']!r}")
        queues[q["name"]] = SimQueue(
            queue_id=queue_ids[q["name"]],
            name=q["name"],
            priority=int(q.get("priority", 3)),
            team_id=teams.get(q.get("team")) if q.get("team") else None,
            open_to_all=not q.get("team") and not q.get("agents"),
            selection=Selection(q.get("agent_selection", Selection.MOST_AVAILABLE)),
            offer_timeout=float(q.get("offer_timeout_seconds", 60)),
            auto_accept=bool(q.get("auto_accept", False)),
            auto_accept_kinds=frozenset(q.get("auto_accept_channel_kinds") or ()),
            case_units=int(q.get("case_units", 1)),
            wrap_up=float(q.get("wrap_up_seconds", 0)),
            required=_skills(q.get("required_skills"), f"queue {q['name']!r}"),
            optional_skills=frozenset(q.get("simulation_optional_skills") or ()),
            steps=_steps(q, queue_ids, queue_teams, teams),
        )
    # An ADD_QUEUE step opens the case to everyone when its target queue is open to all.
    for queue in queues.values():
        names = {v.queue_id: v for v in queues.values()}
        queue.steps = [
            Widening(
                s.after_seconds,
                s.action,
                s.amount,
                s.target_queue_id,
                s.target_team_id,
                names[s.target_queue_id].open_to_all,
            )
            if s.action == ADD_QUEUE
            else s
            for s in queue.steps
        ]
    statuses = {s["name"]: frozenset(s.get("channel_kinds") or ()) for s in _list(doc, "presence_statuses")}
    agents = [
        _agent(n, a, statuses, teams, members)
        for n, a in enumerate(_list(doc, "agents"), start=1)
        if a.get("is_active", True)
    ]
    settings = doc.get("routing_settings") or {}
    not_simulated = []
    if settings.get("fair_cap_assignments"):
        not_simulated.append("fair distribution cap")
    if any(q.get("continuity_minutes") for q in raw_queues):
        not_simulated.append("continuity (returning customers)")
    if any(q.get("calendar") for q in raw_queues):
        not_simulated.append("queue opening hours")
    return SimConfig(
        queues=queues,
        agents=agents,
        aging_seconds=float(settings.get("aging_seconds", 300)),
        sla=_sla(doc),
        rules=_rules(doc, queues),
        languages={s["language_code"].lower(): s["name"] for s in _list(doc, "skills") if s.get("language_code")},
        default_queues=_default_queues(doc, queues),
        not_simulated=not_simulated,
    )


def _agent(n: int, a: dict, statuses: dict, teams: dict, members: dict) -> SimAgent:
    username = a.get("username")
    if not isinstance(username, str) or not username:
        raise ScenarioError("configuration: every agent needs a 'username'")
    capacity = _levels(a.get("capacities", a.get("capacity")), f"agent {username!r} capacity", key="units")
    kinds = frozenset(kind for kind, units in capacity.items() if units > 0)
    enabled = statuses.get(a.get("status") or "", frozenset())
    if enabled:  # the agent's status says which of them it works on; an offline agent works them all
        kinds &= enabled
    for team in a.get("teams") or []:
        if team not in teams:
            raise ScenarioError(f"agent {username!r}: unknown team {team!r}")
    return SimAgent(
        agent_id=n,
        username=username,
        channel_kinds=frozenset(kinds),
        capacity=capacity,
        capacity_total=int(a.get("capacity_total", 5)),
        skills=_levels(a.get("skills"), f"agent {username!r} skills"),
        queue_ids=frozenset(members.get(username, ())),
        team_ids=frozenset(teams[t] for t in a.get("teams") or []),
    )


def _sla(doc: dict) -> list[SlaTarget]:
    policies = sorted(
        (p for p in _list(doc, "sla_policies") if p.get("is_active", True) and p.get("first_response_minutes")),
        key=lambda p: p.get("order", 0),
    )
    return [
        SlaTarget(
            first_response_seconds=60.0 * p["first_response_minutes"],
            priorities=frozenset(p.get("match_priorities") or ()),
            tiers=frozenset(p.get("match_customer_tiers") or ()),
            kinds=frozenset(p.get("match_channel_kinds") or ()),
            queues=frozenset(p.get("match_queues") or ()),
        )
        for p in policies
    ]


def _rules(doc: dict, queues: dict[str, SimQueue]) -> list[Rule]:
    rules = sorted(
        (r for r in _list(doc, "routing_rules") if r.get("is_active", True) and r.get("queue") in queues),
        key=lambda r: r.get("order", 100),
    )
    return [
        Rule(
            kinds=frozenset(r.get("match_channel_kinds") or ()),
            language=(r.get("match_language") or "").lower(),
            tier=r.get("match_customer_tier") or "",
            keywords=bool((r.get("match_keywords") or "").strip()) or bool(r.get("match_channel")),
            queue=r["queue"],
            priority=r.get("set_priority"),
            add_language_skill=bool(r.get("add_language_skill", True)),
            may_interrupt=bool(r.get("may_interrupt", False)),
            skills=_skills(r.get("skills"), f"rule {r.get('name')!r}"),
        )
        for r in rules
    ]


def _default_queues(doc: dict, queues: dict[str, SimQueue]) -> dict[str, str]:
    out: dict[str, str] = {}
    for channel in _list(doc, "channels"):
        queue = channel.get("default_queue")
        if queue in queues and channel.get("kind"):
            out.setdefault(channel["kind"], queue)
    return out
