"""What-if edits: configuration B is configuration A (an ``export_config``
document) with these applied, in order. Each edit is a mapping with one key::

    add_agents: {count: 2, prefix: es-chat, skills: {lang-es: 3, billing: 2},
                 capacity: {web_chat: 3}, capacity_total: 3, hours: [9, 12],
                 queues: [Chat], teams: [Support]}
    remove_agents: {agents: [ana, ben]}
    set_capacity: {agents: [ana] | "*", team: Support, capacity: {web_chat: 4}, capacity_total: 4}
    set_skill: {agents: [ana] | "*", skill: lang-es, proficiency: 3}
    drop_skill_after: {queue: Chat, skill: lang-es, after_seconds: 60}
    add_overflow: {queue: Chat, after_seconds: 120, action: add_queue, target_queue: General}
    set_queue: {queue: Chat, agent_selection: longest_idle, offer_timeout_seconds: 30, auto_accept: true}

``drop_skill_after`` makes the skill optional for the queue's cases (also
when it comes from the customer's language) and adds an overflow step that
drops optional skills after that long, as an admin would configure it.
"""

from __future__ import annotations

import copy

from config.channel_kinds import CHANNEL_KINDS
from simulation.distributions import ScenarioError
from simulation.scenario import Shift, shift_list

QUEUE_FIELDS = {
    "priority": int,
    "agent_selection": str,
    "offer_timeout_seconds": int,
    "auto_accept": bool,
    "auto_accept_channel_kinds": list,
    "case_units": int,
    "wrap_up_seconds": int,
}
OVERFLOW_ACTIONS = ("lower_proficiency", "drop_optional_skills", "add_queue", "add_team", "anyone")


def apply(doc: dict, edits: list[dict]) -> tuple[dict, dict[str, list[Shift]]]:
    """The edited document (the original is left alone) and the shifts of
    agents the edits added."""
    doc = copy.deepcopy(doc)
    shifts: dict[str, list[Shift]] = {}
    for n, edit in enumerate(edits, start=1):
        ((name, args),) = edit.items()
        handler = _EDITS.get(name)
        if handler is None:
            raise ScenarioError(f"what_if #{n}: unknown edit {name!r} (one of {', '.join(_EDITS)})")
        if not isinstance(args, dict):
            raise ScenarioError(f"what_if #{n} {name}: a mapping of arguments")
        handler(doc, args, shifts, f"what_if #{n} {name}")
    return doc, shifts


def _queue(doc: dict, name: object, where: str) -> dict:
    for queue in doc.setdefault("queues", []):
        if queue.get("name") == name:
            return queue
    raise ScenarioError(f"{where}: no queue named {name!r}")


def _levels(value: object, where: str, *, kinds: bool = False) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in value.items()
    ):
        raise ScenarioError(f"{where}: a mapping of name to a whole number")
    if kinds:
        for kind in value:
            if kind not in CHANNEL_KINDS:
                raise ScenarioError(f"{where}: unknown channel kind {kind!r}")
    return value


def _chosen(doc: dict, args: dict, where: str) -> list[dict]:
    agents = doc.setdefault("agents", [])
    who, team = args.get("agents", "*" if "team" in args else None), args.get("team")
    if who is None:
        raise ScenarioError(f"{where}: say which 'agents' (a list of usernames, or \"*\") or which 'team'")
    chosen = agents if who == "*" else [a for a in agents if a.get("username") in set(who)]
    if who != "*":
        missing = set(who) - {a.get("username") for a in chosen}
        if missing:
            raise ScenarioError(f"{where}: no agents named {', '.join(sorted(missing))}")
    if team is not None:
        chosen = [a for a in chosen if team in (a.get("teams") or [])]
    return chosen


def _add_agents(doc: dict, args: dict, shifts: dict, where: str) -> None:
    count = args.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise ScenarioError(f"{where}: 'count' is 1 to 10,000")
    capacity = _levels(args.get("capacity", {"web_chat": 2}), f"{where} capacity", kinds=True)
    skills = _levels(args.get("skills", {}), f"{where} skills")
    prefix = str(args.get("prefix", "extra"))
    taken = {a.get("username") for a in doc.setdefault("agents", [])}
    known_skills = {s.get("name") for s in doc.get("skills") or []}
    for skill in skills:
        if skill not in known_skills:
            doc.setdefault("skills", []).append({"name": skill, "kind": "product"})
    teams = args.get("teams") or []
    known_teams = {t.get("name") for t in doc.get("teams") or []}
    for team in teams:
        if team not in known_teams:
            raise ScenarioError(f"{where}: no team named {team!r}")
    hours = shift_list(args["hours"], f"{where} hours") if "hours" in args else None
    queues = [_queue(doc, name, where) for name in args.get("queues") or []]
    for n in range(1, count + 1):
        username = f"{prefix}-{n}"
        if username in taken:
            raise ScenarioError(f"{where}: an agent named {username!r} exists; choose another 'prefix'")
        doc["agents"].append(
            {
                "username": username,
                "display_name": username,
                "teams": list(teams),
                "capacity_total": int(args.get("capacity_total", sum(capacity.values()))),
                "capacities": dict(capacity),
                "skills": dict(skills),
                "is_active": True,
            }
        )
        for queue in queues:
            queue.setdefault("agents", []).append(username)
        if hours is not None:
            shifts[username] = hours


def _remove_agents(doc: dict, args: dict, shifts: dict, where: str) -> None:
    gone = {a["username"] for a in _chosen(doc, args, where)}
    doc["agents"] = [a for a in doc["agents"] if a.get("username") not in gone]
    for queue in doc.get("queues") or []:
        queue["agents"] = [u for u in queue.get("agents") or [] if u not in gone]


def _set_capacity(doc: dict, args: dict, shifts: dict, where: str) -> None:
    capacity = _levels(args.get("capacity", {}), f"{where} capacity", kinds=True)
    total = args.get("capacity_total")
    if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
        raise ScenarioError(f"{where}: 'capacity_total' is a whole number")
    for agent in _chosen(doc, args, where):
        current = agent.get("capacities", agent.get("capacity")) or {}
        if isinstance(current, list):
            current = {c.get("channel_kind"): c.get("units") for c in current}
        agent["capacities"] = {**current, **capacity}
        agent.pop("capacity", None)
        if total is not None:
            agent["capacity_total"] = total


def _set_skill(doc: dict, args: dict, shifts: dict, where: str) -> None:
    skill, level = args.get("skill"), args.get("proficiency")
    if not isinstance(skill, str) or not isinstance(level, int) or not 0 <= level <= 5:
        raise ScenarioError(f"{where}: 'skill' and 'proficiency' (1 to 5, or 0 to remove it)")
    if skill not in {s.get("name") for s in doc.get("skills") or []}:
        doc.setdefault("skills", []).append({"name": skill, "kind": "product"})
    for agent in _chosen(doc, args, where):
        current = agent.get("skills") or {}
        if isinstance(current, list):
            current = {s.get("skill") or s.get("name"): s.get("proficiency") for s in current}
        current = {k: v for k, v in current.items() if k != skill}
        if level:
            current[skill] = level
        agent["skills"] = current


def _after(args: dict, where: str) -> int:
    after = args.get("after_seconds")
    if isinstance(after, bool) or not isinstance(after, int | float) or after < 0:
        raise ScenarioError(f"{where}: 'after_seconds' is a non-negative number")
    return after


def _drop_skill_after(doc: dict, args: dict, shifts: dict, where: str) -> None:
    queue = _queue(doc, args.get("queue"), where)
    skill = args.get("skill")
    if not isinstance(skill, str):
        raise ScenarioError(f"{where}: 'skill' is a skill's name")
    after = _after(args, where)
    queue["simulation_optional_skills"] = sorted({*queue.get("simulation_optional_skills", []), skill})
    for required in queue.get("required_skills") or []:
        if isinstance(required, dict) and required.get("skill") == skill:
            required["optional"] = True
    queue.setdefault("overflow_steps", []).append({"after_seconds": after, "action": "drop_optional_skills"})


def _add_overflow(doc: dict, args: dict, shifts: dict, where: str) -> None:
    queue = _queue(doc, args.get("queue"), where)
    action = args.get("action")
    if action not in OVERFLOW_ACTIONS:
        raise ScenarioError(f"{where}: 'action' is one of {', '.join(OVERFLOW_ACTIONS)}")
    step = {"after_seconds": _after(args, where), "action": action, "amount": int(args.get("amount", 1))}
    if action == "add_queue":
        step["target_queue"] = _queue(doc, args.get("target_queue"), where)["name"]
    if action == "add_team":
        if args.get("target_team") not in {t.get("name") for t in doc.get("teams") or []}:
            raise ScenarioError(f"{where}: no team named {args.get('target_team')!r}")
        step["target_team"] = args["target_team"]
    queue.setdefault("overflow_steps", []).append(step)


def _set_queue(doc: dict, args: dict, shifts: dict, where: str) -> None:
    queue = _queue(doc, args.get("queue"), where)
    for key, value in args.items():
        if key == "queue":
            continue
        kind = QUEUE_FIELDS.get(key)
        if kind is None:
            raise ScenarioError(f"{where}: cannot set {key!r} (one of {', '.join(QUEUE_FIELDS)})")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ScenarioError(f"{where}: {key!r} must be a {kind.__name__}")
        queue[key] = value


_EDITS = {
    "add_agents": _add_agents,
    "remove_agents": _remove_agents,
    "set_capacity": _set_capacity,
    "set_skill": _set_skill,
    "drop_skill_after": _drop_skill_after,
    "add_overflow": _add_overflow,
    "set_queue": _set_queue,
}
