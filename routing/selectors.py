"""Reads the router, pages and the API share: agents' routing state, loads,
queues, and the demands of waiting cases — each loaded in a few queries,
whatever the number of agents or cases."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from django.db.models import Count, IntegerField, JSONField, Q, Sum
from django.db.models.expressions import RawSQL

from agents.models import Agent, AgentCapacity, AgentSkill
from cases.models import HELD_STATUSES, Case, CaseSkill, CaseStatus
from routing.core import AgentPool, AgentState, CaseDemand, Selection
from routing.models import Offer, Queue, RoutingSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueueInfo:
    queue_id: int
    priority: int
    team_id: int | None
    open_to_all: bool  # no team and no direct members: every agent serves it
    selection: Selection
    continuity_minutes: int
    offer_timeout_seconds: int
    auto_accept: bool
    auto_accept_channel_kinds: frozenset[str]

    def auto_accepts(self, channel_kind: str) -> bool:
        return self.auto_accept or channel_kind in self.auto_accept_channel_kinds


def fast_cursor():
    """Where the router's raw reads run: on PostgreSQL a cursor binding
    server-side (an id array packed in C), each statement prepared once per
    connection and read in binary (see ``routing.bulk``)."""
    from django.db import connection

    from routing import bulk

    return bulk.binary_cursor(prepared=True) if connection.vendor == "postgresql" else connection.cursor()


def among(column: str, ids: Sequence[int]) -> tuple[str, list]:
    """SQL for "column is one of ids" and its parameters: one array parameter
    on PostgreSQL (a batch of 200 ids is one value to send, not 200
    placeholders to parse), an IN list elsewhere."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(ids)]
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


class _Kept:
    """A value this process reads at most every ``ROUTER_STATE_MS`` (queues'
    routing settings, the routing settings): forgotten at once when this
    process saves one (``routing.signals``), within that time when another
    does."""

    def __init__(self, load) -> None:
        self._load = load
        self._value = None
        self._loaded_at = float("-inf")

    def get(self):
        from django.conf import settings as django_settings

        ttl = django_settings.SWITCHBOARD["ROUTER_STATE_MS"] / 1000
        if self._value is None or time.monotonic() - self._loaded_at >= ttl:
            self._value = self._load()
            self._loaded_at = time.monotonic()
        return self._value

    def clear(self, *args, **kwargs) -> None:
        self._value = None


def queues() -> dict[int, QueueInfo]:
    """Every queue's routing settings (kept for a moment: see ``_Kept``)."""
    return _queues.get()


def routing_settings() -> RoutingSettings:
    """``RoutingSettings.current()``, kept for a moment (see ``_Kept``)."""
    return _settings.get()


def _load_queues() -> dict[int, QueueInfo]:
    rows = Queue.objects.annotate(direct=Count("agents")).values(
        "pk",
        "priority",
        "team_id",
        "direct",
        "agent_selection",
        "continuity_minutes",
        "offer_timeout_seconds",
        "auto_accept",
        "auto_accept_channel_kinds",
    )
    return {
        row["pk"]: QueueInfo(
            queue_id=row["pk"],
            priority=row["priority"],
            team_id=row["team_id"],
            open_to_all=row["team_id"] is None and row["direct"] == 0,
            selection=Selection(row["agent_selection"]),
            continuity_minutes=row["continuity_minutes"],
            offer_timeout_seconds=row["offer_timeout_seconds"],
            auto_accept=row["auto_accept"],
            auto_accept_channel_kinds=frozenset(row["auto_accept_channel_kinds"] or ()),
        )
        for row in rows
    }


def closed_queue_ids(now: datetime) -> list[int]:
    """Queues outside their opening hours (``sla`` calendars) at ``now``;
    kept like the queues (``_Kept``), for the same ``now`` give or take that
    long, so opening and closing may be seen up to ``ROUTER_STATE_MS`` late."""
    from django.conf import settings as django_settings

    from sla.selectors import closed_queue_ids as closed

    ttl = django_settings.SWITCHBOARD["ROUTER_STATE_MS"] / 1000
    kept = _closed.get(None) if ttl > 0 else None
    if kept is not None:
        value, at, loaded = kept
        if time.monotonic() - loaded < ttl and abs((now - at).total_seconds()) < ttl:
            return value
    value = closed(now)
    _closed[None] = (value, now, time.monotonic())
    return value


_closed: dict = {}


_queues = _Kept(_load_queues)
_settings = _Kept(RoutingSettings.current)


# --- Agents ---------------------------------------------------------------------


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


def agent_loads(agent_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Units each agent holds per channel kind: cases it is assigned (also
    while waiting on the customer and in wrap-up) plus offers it has pending."""
    return _work(list(agent_ids))[0]


def _work(ids: list[int] | None) -> tuple[dict[int, dict[str, int]], dict[int, int]]:
    """Loads in units per agent and channel kind, and open items per agent
    (held cases plus pending offers), in two grouped queries. ``None``: every
    agent that holds anything."""
    loads: dict[int, dict[str, int]] = defaultdict(dict)
    counts: dict[int, int] = defaultdict(int)
    if ids is not None and not ids:
        return loads, counts
    held = Case.objects.filter(status__in=HELD_STATUSES, assignee__isnull=False)
    offered = Offer.objects.filter(status=Offer.Status.PENDING)
    if ids is not None:
        held = held.filter(assignee_id__in=ids)
        offered = offered.filter(agent_id__in=ids)
    rows = list(
        held.values_list("assignee_id", "channel_kind").annotate(units=Sum("units"), n=Count("id")).order_by()
    ) + list(offered.values_list("agent_id", "channel_kind").annotate(units=Sum("units"), n=Count("id")).order_by())
    for agent_id, kind, units, n in rows:
        load = loads[agent_id]
        load[kind] = load.get(kind, 0) + units
        counts[agent_id] += n
    return loads, counts


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


def counted_loads() -> bool:
    """Whether agents' loads are kept on their rows (PostgreSQL: the columns
    ``load_units`` and ``load_items``, kept by triggers; see routing
    migration 0007) rather than summed from their cases and offers."""
    from django.db import connection

    return connection.vendor == "postgresql"


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
        qs = _with_kept_loads(qs)
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


def _with_kept_loads(qs):
    """``qs`` of agents with their kept loads as ``kept_units`` and ``kept_items``."""
    table = Agent._meta.db_table  # the columns are not model fields (see counted_loads)
    return qs.annotate(
        kept_units=RawSQL(f"{table}.load_units", [], output_field=JSONField()),  # noqa: S611 (no input)
        kept_items=RawSQL(f"{table}.load_items", [], output_field=IntegerField()),  # noqa: S611 (no input)
    )


def load_drift() -> dict[int, dict]:
    """Agents whose kept loads differ from the sums of their held cases and
    pending offers: id -> {"kept": (units, items), "summed": (units, items)}.
    Empty where loads are summed anyway (SQLite)."""
    if not counted_loads():
        return {}
    loads, counts = _work(None)
    drift = {}
    for pk, units, items in _with_kept_loads(Agent.objects.all()).values_list("pk", "kept_units", "kept_items"):
        summed = ({k: v for k, v in loads.get(pk, {}).items() if v}, counts.get(pk, 0))
        if (units, items) != summed:
            drift[pk] = {"kept": (units, items), "summed": summed}
    return drift


def recount_loads() -> int:
    """Set every agent's kept loads from the sums; returns how many were
    wrong. Nothing to do where loads are summed (SQLite)."""
    from django.db import connection

    if not counted_loads():
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT routing_recount_loads()")
        return cursor.fetchone()[0]


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


class _ThreadPool:
    """One thread's planning pool and its bookkeeping."""

    __slots__ = ("pool", "key", "loaded_at", "seen", "ready", "refreshing")

    def __init__(self, pool: AgentPool, key: tuple, loaded_at: float, seen: int) -> None:
        self.pool = pool
        self.key = key
        self.loaded_at = loaded_at
        self.seen = seen  # changes (``_Planning.changed``) already read into the pool
        self.ready: tuple | None = None  # a newer full read made in the background
        self.refreshing = False


class _Planning:
    """Each thread's planning pool: every routable agent's state as read at
    most about ``ROUTER_STATE_MS`` ago, kept current with the work this
    thread handed out and the fresh states it read under locks since. Batches
    plan on it instead of reading a thousand agents each time; what is written
    is always decided again on the chosen agents' states read under their
    locks, so a stale pool can cost a better choice for a moment, never a
    promise.

    - Agents this process changed (``changed``: presence, status, capacity,
      skills, an offer closed, a case resolved) are read again, alone, before
      the next plan.
    - When the pool is older than ``ROUTER_STATE_MS``, a background thread
      reads every agent and the planning thread takes the new pool at its next
      batch: no decision waits for a full read, but the first. Reads are
      spaced by at least ``REFRESH_SPACING`` times as long as the last one
      took (its own CPU and the database's work summing every agent's held
      cases and pending offers), so that however many agents and how much
      work there is, the background reads cost a router and the database at
      most about 5 % of a core each (what it writes is decided on the chosen
      agents' states read under their locks either way).
    - ``clear`` (memberships, settings) makes every thread read all anew."""

    LOG_LIMIT = 10_000
    REFRESH_SPACING = 20

    def __init__(self) -> None:
        self.read_seconds = 0.0  # seconds the last full read in the background took (the longer of wall and CPU)
        self._local = threading.local()
        self._generation = 0
        self._lock = threading.Lock()
        self._log: list[int] = []  # agent ids changed in this process, oldest first
        self._log_start = 0  # the sequence number of _log[0]
        self._requests: queue.SimpleQueue | None = None

    def pool(self, now: datetime, settings: RoutingSettings) -> AgentPool:
        from django.conf import settings as django_settings

        ttl = django_settings.SWITCHBOARD["ROUTER_STATE_MS"] / 1000
        key = (self._generation, settings.fair_cap_assignments, settings.fair_cap_window_minutes)
        mine: _ThreadPool | None = getattr(self._local, "mine", None)
        if mine is None or ttl <= 0 or mine.key != key:
            return self._load(now, settings, key).pool
        if mine.ready is not None:
            pool, loaded_at, seen, ready_key = mine.ready
            mine.ready = None
            if ready_key == key:
                mine.pool, mine.loaded_at, mine.seen = pool, loaded_at, seen
        seen, changed = self._changes_since(mine.seen)
        if seen is None:
            return self._load(now, settings, key).pool
        if changed:
            states = agent_states(now, changed, settings=settings)
            mine.pool.remove(set(changed) - {state.agent_id for state in states})
            mine.pool.update(states)
            mine.seen = seen
        spacing = max(ttl, self.REFRESH_SPACING * self.read_seconds)
        if time.monotonic() - mine.loaded_at >= spacing and not mine.refreshing:
            mine.refreshing = True
            self._refresh_later(mine, settings, key)
        return mine.pool

    def _load(self, now: datetime, settings: RoutingSettings, key: tuple) -> _ThreadPool:
        seen = self._sequence()
        started = time.monotonic()
        mine = self._local.mine = _ThreadPool(AgentPool(agent_states(now, settings=settings)), key, started, seen)
        return mine

    def sync(self, states: Iterable[AgentState], gone: Iterable[int] = ()) -> None:
        """Fresh states read under lock (with the work just handed out) go
        into this thread's pool; agents found no longer routable leave it."""
        mine = getattr(self._local, "mine", None)
        if mine is not None:
            mine.pool.remove(gone)
            mine.pool.update(states)

    # --- what changed -----------------------------------------------------------

    def changed(self, agent_id: int | None) -> None:
        """This process changed an agent (None: some agent, unknown)."""
        if agent_id is None:
            self.clear()
            return
        with self._lock:
            self._log.append(agent_id)
            if len(self._log) > self.LOG_LIMIT:
                drop = len(self._log) // 2
                del self._log[:drop]
                self._log_start += drop

    def clear(self, *args, **kwargs) -> None:
        self._generation += 1

    def _sequence(self) -> int:
        with self._lock:
            return self._log_start + len(self._log)

    def _changes_since(self, seen: int) -> tuple[int | None, list[int]]:
        with self._lock:
            if seen < self._log_start:
                return None, []  # fell behind the log: read everything
            return self._log_start + len(self._log), list(set(self._log[seen - self._log_start :]))

    # --- reading every agent in the background ------------------------------------

    def _refresh_later(self, mine: _ThreadPool, settings: RoutingSettings, key: tuple) -> None:
        with self._lock:
            if self._requests is None:
                self._requests = queue.SimpleQueue()
                threading.Thread(target=self._refresher, name="switchboard-router-state", daemon=True).start()
            requests = self._requests
        requests.put((mine, settings, key))

    def _refresher(self) -> None:
        from django.db import close_old_connections, connections
        from django.utils import timezone

        requests = cast("queue.SimpleQueue[Any]", self._requests)  # made before this thread starts
        while True:
            mine, settings, key = requests.get()
            try:
                close_old_connections()
                seen = self._sequence()
                started, cpu = time.monotonic(), time.thread_time()
                pool = AgentPool(agent_states(timezone.now(), settings=settings))
                mine.ready = (pool, started, seen, key)
                self.read_seconds = max(time.thread_time() - cpu, time.monotonic() - started)
            except Exception:
                log.exception("reading agents' routing state failed; the router reads it itself next time")
                mine.loaded_at = float("-inf")
                self.clear()
            finally:
                # Its own connection is not kept between reads (a second apart):
                # nothing holds a database session open in the background.
                connections.close_all()
                mine.refreshing = False


planning = _Planning()


# --- Cases ----------------------------------------------------------------------


def refused_by(case_ids: Sequence[int]) -> dict[int, set[int]]:
    """Agents who declined or let each case's offer time out."""
    out: dict[int, set[int]] = defaultdict(set)
    for case_id, agent_id in Offer.objects.filter(
        case_id__in=case_ids, status__in=[Offer.Status.DECLINED, Offer.Status.TIMED_OUT]
    ).values_list("case_id", "agent_id"):
        out[case_id].add(agent_id)
    return out


def _case_facts(ids: list[int]) -> tuple[dict[int, dict[str, int]], dict[int, set[int]]]:
    """The cases' required skills (name -> minimum) and the agents who
    declined them or let their offers time out, in one query."""

    skills: dict[int, dict[str, int]] = defaultdict(dict)
    refused: dict[int, set[int]] = defaultdict(set)
    skill = CaseSkill._meta.get_field("skill").related_model._meta.db_table
    by_case, one = among("case_id", ids)
    # Table names come from the models; every value is a parameter.
    sql = f"""
        SELECT 1, c.case_id, k.name, c.min_proficiency FROM {CaseSkill._meta.db_table} c
          JOIN {skill} k ON k.id = c.skill_id WHERE c.{by_case}
        UNION ALL
        SELECT 2, case_id, '', agent_id FROM {Offer._meta.db_table} WHERE {by_case} AND status IN (%s, %s)
    """  # noqa: S608
    with fast_cursor() as cursor:
        cursor.execute(sql, [*one, *one, Offer.Status.DECLINED, Offer.Status.TIMED_OUT])
        for tag, case_id, name, value in cursor.fetchall():
            if tag == 1:
                skills[case_id][name] = value
            else:
                refused[case_id].add(value)
    return skills, refused


def recent_agents(cases: Sequence[Case], queue_info: dict[int, QueueInfo], now: datetime) -> dict[int, int]:
    """Continuity: for each case whose queue asks for it, the agent who last
    served the same customer within the queue's window (case id -> agent id)."""
    windows = {
        case.pk: queue_info[case.queue_id].continuity_minutes
        for case in cases
        if case.queue_id in queue_info and queue_info[case.queue_id].continuity_minutes
    }
    if not windows:
        return {}
    longest = max(windows.values())
    customers = {case.customer_id for case in cases if case.pk in windows}
    last: dict[int, tuple[datetime, int]] = {}
    rows = (
        Case.objects.filter(customer_id__in=customers, assignee__isnull=False)
        .filter(Q(resolved_at__gte=now - timedelta(minutes=longest)) | Q(resolved_at__isnull=True))
        .exclude(pk__in=list(windows))
        .values_list("customer_id", "assignee_id", "resolved_at")
    )
    for customer_id, agent_id, resolved_at in rows:
        when = resolved_at or now
        if customer_id not in last or when > last[customer_id][0]:
            last[customer_id] = (when, agent_id)
    out = {}
    for case in cases:
        window = windows.get(case.pk)
        found = last.get(case.customer_id)
        if window and found and found[0] >= now - timedelta(minutes=window):
            out[case.pk] = found[1]
    return out


def case_demands(
    cases: Sequence[Case],
    now: datetime,
    *,
    queue_info: dict[int, QueueInfo] | None = None,
    settings: RoutingSettings | None = None,
) -> list[CaseDemand]:
    """What each case asks of an agent, in four queries for the whole batch."""
    if not cases:
        return []
    queue_info = queue_info if queue_info is not None else queues()
    settings = settings or routing_settings()
    skills, refused = _case_facts([case.pk for case in cases])
    preferred = recent_agents(cases, queue_info, now)
    fair_cap = settings.fair_cap_assignments or None
    demands = []
    for case in cases:
        info = queue_info.get(case.queue_id) if case.queue_id else None
        scope = case.overflow or {}
        queue_ids = {case.queue_id} if case.queue_id else set()
        team_ids = {info.team_id} if info and info.team_id else set()
        open_to_all = info is None or info.open_to_all or bool(scope.get("anyone"))
        for other in scope.get("queues", ()):
            queue_ids.add(other)
            other_info = queue_info.get(other)
            if other_info is not None:
                if other_info.team_id:
                    team_ids.add(other_info.team_id)
                open_to_all = open_to_all or other_info.open_to_all
        team_ids.update(scope.get("teams", ()))
        demands.append(
            CaseDemand(
                case_id=case.pk,
                channel_kind=case.channel_kind,
                required_skills=skills.get(case.pk, {}),
                queue_ids=frozenset(queue_ids),
                team_ids=frozenset(team_ids),
                open_to_all=open_to_all,
                units=case.units,
                may_interrupt=case.may_interrupt,
                excluded_agents=frozenset(refused.get(case.pk, set()) | set(scope.get("excluded", ()))),
                preferred_agent_id=preferred.get(case.pk),
                selection=info.selection if info else Selection.MOST_AVAILABLE,
                fair_cap=fair_cap,
                rank=case.route_rank.timestamp() if case.route_rank else 0.0,
            )
        )
    return demands


def queue_position(case: Case, now: datetime) -> dict:
    """Where a waiting case stands in its queue, and a wait estimate from the
    queue's pace over the last hour (None until there is a pace to go by)."""
    if case.status != CaseStatus.QUEUED or case.route_rank is None:
        return {"position": None, "estimated_wait_seconds": None, "status": case.status}
    ahead = (
        Case.objects.filter(status=CaseStatus.QUEUED, queue_id=case.queue_id)  # type: ignore[misc]  # None: no queue
        .filter(Q(route_rank__lt=case.route_rank) | Q(route_rank=case.route_rank, pk__lt=case.pk))
        .count()
    )
    hour_ago = now - timedelta(hours=1)
    served = (
        Offer.objects.filter(case__queue_id=case.queue_id, created_at__gte=hour_ago)  # type: ignore[misc]  # as above
        .filter(status__in=[Offer.Status.PENDING, Offer.Status.ACCEPTED])
        .aggregate(n=Count("case_id", distinct=True))
    )
    estimate = None
    if served["n"]:
        estimate = round((ahead + 1) * 3600 / served["n"])
    return {"position": ahead + 1, "estimated_wait_seconds": estimate, "status": case.status}


def pending_offers_for(agent: Agent) -> list[Offer]:
    return list(
        Offer.objects.filter(agent=agent, status=Offer.Status.PENDING)
        .select_related("case__customer", "case__queue")
        .order_by("created_at")
    )
