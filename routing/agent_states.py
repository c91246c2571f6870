"""Agents' routing state, as the router reads it: who is routable, and
each routable agent's skills, capacities, memberships and loads, in a few
queries whatever the number of agents; also under lock, for the agents a
batch chose."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count

from agents.models import Agent, AgentCapacity, AgentSkill
from cases.models import HELD_STATUSES, Case
from routing.bulk import among, fast_cursor
from routing.core import AgentState
from routing.loads import counted_loads, with_kept_loads
from routing.models import Offer, Queue, RoutingSettings
from routing.queue_settings import routing_settings


def routable_agent_ids(now: datetime, agent_ids: Iterable[int] | None = None) -> list[int]:
    """Agents present now in a status that enables at least one channel kind."""
    qs = Agent.objects.filter(is_active=True, present_until__gt=now, status__isnull=False)
    if agent_ids is not None:
        qs = qs.filter(pk__in=list(agent_ids))
    return [pk for pk, kinds in qs.values_list("pk", "status__channel_kinds") if kinds]


def anyone_routable(now: datetime) -> bool:
    """Whether any agent is present now in a status that enables a channel
    kind: one indexed look, not a read of every agent."""
    return (
        Agent.objects.filter(is_active=True, present_until__gt=now, status__isnull=False)
        .exclude(status__channel_kinds=[])
        .exists()
    )


def recent_assignments(ids: list[int] | None, since: datetime) -> dict[int, int]:
    """Offers made to (and cases assigned to) each agent since ``since``,
    for fair distribution; declined and missed offers do not count."""
    qs = Offer.objects.filter(created_at__gte=since, status__in=[Offer.Status.PENDING, Offer.Status.ACCEPTED])
    if ids is not None:
        qs = qs.filter(agent_id__in=ids)
    return dict(qs.values_list("agent_id").annotate(n=Count("id")).order_by())


@dataclass(frozen=True, slots=True)
class _Profile:
    """What changes rarely about an agent: skills, capacities, memberships."""

    capacity: dict[str, int]
    skills: dict[str, int]
    queue_ids: frozenset[int]
    team_ids: frozenset[int]


_AGENT_ROW = ("pk", "capacity_total", "idle_since", "status_since", "last_routed_at", "status__channel_kinds")


def agent_states(
    now: datetime,
    agent_ids: Iterable[int] | None = None,
    *,
    settings: RoutingSettings | None = None,
) -> list[AgentState]:
    """The routing state of every routable agent (or of these agents, when
    they are routable), read now in two queries (three with fair
    distribution on)."""
    qs = Agent.objects.filter(is_active=True, present_until__gt=now, status__isnull=False)
    scoped = agent_ids is not None
    if scoped:
        qs = qs.filter(pk__in=list(agent_ids))  # type: ignore[arg-type]  # scoped: not None
    counted = counted_loads()
    if counted:
        qs = with_kept_loads(qs)
    rows = [row for row in qs.values_list(*_AGENT_ROW, *(("kept_units", "kept_items") if counted else ())) if row[5]]
    if not rows:
        return []
    settings = settings or routing_settings()
    profile, loads, open_cases = _profiles_and_loads(rows, everyone=not scoped)
    return _states(rows, profile, loads, open_cases, _recent([r[0] for r in rows] if scoped else None, now, settings))


def lock_agent_states(
    now: datetime, agent_ids: Iterable[int], *, settings: RoutingSettings
) -> tuple[list[int], list[AgentState]]:
    """Lock these agents (in id order, skipping those another transaction
    holds) and read their routing state under the lock: two queries. Returns
    the ids locked and the states of those still routable. On PostgreSQL
    their loads come with the lock, from their rows."""
    locked, rows = [], []
    for row in _lock_agents(sorted(agent_ids)):
        locked.append(row[0])
        present_until = row[7]
        if row[6] and row[5] and present_until is not None and present_until > now:
            rows.append(row[:6] + row[8:])
    if not rows:
        return locked, []
    profile, loads, open_cases = _profiles_and_loads(rows)
    return locked, _states(rows, profile, loads, open_cases, _recent([r[0] for r in rows], now, settings))


def _profiles_and_loads(rows, *, everyone: bool = False):
    """Profiles, loads and open items of the agents of ``rows``
    (``_AGENT_ROW``, then load_units and load_items where loads are kept):
    loads from the rows themselves where they are kept, else summed with
    the profiles (``_facts``)."""
    ids = [row[0] for row in rows]
    if not counted_loads():
        return _facts(ids, everyone=everyone)
    profile, _, _ = _facts(ids, everyone=everyone, loads=False)
    return profile, {row[0]: row[6] for row in rows}, {row[0]: row[7] for row in rows}


def _lock_agents(ids: list[int]):
    """Rows of ``_AGENT_ROW`` plus is_active and present_until for these
    agents (and, on PostgreSQL, their load_units and load_items), locked in
    id order, skipping those another transaction holds. On PostgreSQL
    written SQL (every decision runs it); elsewhere the ORM."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return (
            Agent.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list(*_AGENT_ROW, "is_active", "present_until")
        )
    q = connection.ops.quote_name
    status = Agent._meta.get_field("status").related_model._meta.db_table
    # Names come from the models; the ids are a parameter. The load columns
    # are read as of the lock: every change of load updates the row.
    sql = f"""
        SELECT a.id, a.capacity_total, a.idle_since, a.status_since, a.last_routed_at, s.channel_kinds,
               a.is_active, a.present_until, a.load_units, a.load_items
          FROM {q(Agent._meta.db_table)} a LEFT JOIN {q(status)} s ON s.id = a.status_id
         WHERE a.id = ANY(%s) ORDER BY a.id FOR UPDATE OF a SKIP LOCKED
    """  # noqa: S608
    with fast_cursor() as cursor:  # binary results: jsonb comes back as lists and dicts
        cursor.execute(sql, [ids])
        return cursor.fetchall()


def _recent(ids: list[int] | None, now: datetime, settings: RoutingSettings) -> dict[int, int]:
    if not settings.fair_cap_assignments:
        return {}
    return recent_assignments(ids, now - timedelta(minutes=settings.fair_cap_window_minutes))


def _states(rows, profile, loads, open_cases, recent) -> list[AgentState]:
    states = []
    for pk, capacity_total, idle_since, status_since, last_routed_at, kinds, *_ in rows:
        p = profile[pk]
        # Idle since the later of: work ran out (or the status began), and
        # the last case the router handed over.
        idle = max((t for t in (idle_since or status_since, last_routed_at) if t is not None), default=None)
        states.append(
            AgentState(
                agent_id=pk,
                channel_kinds=frozenset(kinds),
                capacity=p.capacity,
                capacity_total=capacity_total,
                load=loads.get(pk, {}),
                open_cases=open_cases.get(pk, 0),
                skills=p.skills,
                queue_ids=p.queue_ids,
                team_ids=p.team_ids,
                idle_since=idle.timestamp() if idle else 0.0,
                recent_assignments=recent.get(pk, 0),
            )
        )
    return states


def _facts(
    ids: list[int], *, everyone: bool = False, loads: bool = True
) -> tuple[dict[int, _Profile], dict[int, dict[str, int]], dict[int, int]]:
    """Profiles and loads of these agents read now, in one query: skills,
    capacities, teams, queues served directly, held cases and pending offers
    (units and count per channel kind; not with ``loads=False``, when the
    caller has them from the agents' rows). ``everyone``: read every agent's
    rows rather than name a thousand ids (the caller keeps what it needs)."""

    if not ids:
        return {}, {}, {}
    held = ", ".join(["%s"] * len(HELD_STATUSES))
    agent_skill, skill = AgentSkill._meta.db_table, AgentSkill._meta.get_field("skill").related_model._meta.db_table
    teams, direct = Agent.teams.through._meta.db_table, Queue.agents.through._meta.db_table
    params: list[Any]
    if everyone:
        who, params = {"s.agent_id": "", "agent_id": "", "assignee_id": ""}, []
    else:
        who, params = {}, []
        for column in ("s.agent_id", "agent_id", "assignee_id"):
            sql, one = among(column, ids)
            who[column] = f"{sql} AND "
        params = one * 4
    # Table names come from the models; every value is a parameter.
    sql = f"""
        SELECT 1, s.agent_id, k.name, s.proficiency, 0 FROM {agent_skill} s JOIN {skill} k ON k.id = s.skill_id
         WHERE {who["s.agent_id"]} 1 = 1
        UNION ALL
        SELECT 2, agent_id, channel_kind, units, 0 FROM {AgentCapacity._meta.db_table} WHERE {who["agent_id"]} 1 = 1
        UNION ALL
        SELECT 3, agent_id, '', team_id, 0 FROM {teams} WHERE {who["agent_id"]} 1 = 1
        UNION ALL
        SELECT 4, agent_id, '', queue_id, 0 FROM {direct} WHERE {who["agent_id"]} 1 = 1
    """  # noqa: S608
    if loads:
        sql += f"""
        UNION ALL
        SELECT 5, assignee_id, channel_kind, SUM(units), COUNT(*) FROM {Case._meta.db_table}
         WHERE {who["assignee_id"]} status IN ({held}) GROUP BY assignee_id, channel_kind
        UNION ALL
        SELECT 5, agent_id, channel_kind, SUM(units), COUNT(*) FROM {Offer._meta.db_table}
         WHERE {who["agent_id"]} status = %s GROUP BY agent_id, channel_kind
        """  # noqa: S608
        mine = [] if everyone else one
        params += mine + [str(s) for s in HELD_STATUSES] + mine + [Offer.Status.PENDING]
    skills: dict[int, dict[str, int]] = defaultdict(dict)
    capacity: dict[int, dict[str, int]] = defaultdict(dict)
    team_ids: dict[int, set[int]] = defaultdict(set)
    queue_ids: dict[int, set[int]] = defaultdict(set)
    unit_loads: dict[int, dict[str, int]] = defaultdict(dict)  # not ``loads``: the argument
    counts: dict[int, int] = defaultdict(int)
    with fast_cursor() as cursor:
        cursor.execute(sql, params)
        for tag, agent_id, name, value, n in cursor.fetchall():
            if tag == 1:
                skills[agent_id][name] = value
            elif tag == 2:
                capacity[agent_id][name] = value
            elif tag == 3:
                team_ids[agent_id].add(value)
            elif tag == 4:
                queue_ids[agent_id].add(value)
            else:
                load = unit_loads[agent_id]
                load[name] = load.get(name, 0) + int(value)
                counts[agent_id] += n
    profile = {
        pk: _Profile(
            capacity=capacity.get(pk, {}),
            skills=skills.get(pk, {}),
            queue_ids=frozenset(queue_ids.get(pk, ())),
            team_ids=frozenset(team_ids.get(pk, ())),
        )
        for pk in ids
    }
    return profile, unit_loads, counts
