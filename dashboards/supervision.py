"""What the supervisor dashboard shows, computed per queue and per agent
with a handful of grouped queries for any number of them (never one query
per case or per row), shared by the websocket snapshot, its deltas and the
pages."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Avg, Count, FloatField, Func, Min, Q, Sum
from django.utils import timezone

from agents.models import Agent, AgentCapacity, PresenceStatus
from cases.models import HELD_STATUSES, Case, CaseStatus
from config.channel_kinds import CHANNEL_KINDS
from dashboards.models import Escalation, QueueLoadSample
from dashboards.scope import Scope
from routing.loads import agent_loads
from routing.models import Queue

# An SLA target due within this many minutes is "at risk".
SLA_AT_RISK_MINUTES = 15
WAITING = [CaseStatus.QUEUED, CaseStatus.OFFERED]
LIVE = [CaseStatus.QUEUED, CaseStatus.OFFERED, CaseStatus.ASSIGNED, CaseStatus.WAITING, CaseStatus.WRAP_UP]
HISTORY_HOURS = 4
FEED_LENGTH = 30


class Epoch(Func):
    """Seconds since 1970 of a timestamp, on PostgreSQL and SQLite."""

    output_field = FloatField()

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value else None


# --- Queues -------------------------------------------------------------------


def queues_in(scope: Scope) -> list[int]:
    qs = Queue.objects.filter(is_active=True)
    if not scope.is_admin:
        qs = qs.filter(team_id__in=scope.team_ids)
    return list(qs.values_list("pk", flat=True))


def queue_rows(queue_ids, now: datetime | None = None) -> dict[int, dict]:
    """Live figures of these queues: six grouped queries, whatever their size."""
    now = now or timezone.now()
    ids = list(queue_ids)
    if not ids:
        return {}
    queues = {
        row["pk"]: row
        for row in Queue.objects.filter(pk__in=ids).values(
            "pk", "name", "priority", "team_id", "channel_kinds", "is_active"
        )
    }
    out: dict[int, dict] = {}
    for pk, q in queues.items():
        out[pk] = {
            "id": pk,
            "name": q["name"],
            "priority": q["priority"],
            "team_id": q["team_id"],
            "active": q["is_active"],
            "channel_kinds": q["channel_kinds"] or [],
            "waiting": 0,
            "offered": 0,
            "assigned": 0,
            "waiting_on_customer": 0,
            "wrap_up": 0,
            "oldest_queued_at": None,  # longest wait = now - this (the page ticks it)
            "average_queued_at": None,  # average wait = now - this
            "sla_at_risk": 0,
            "sla_breached": 0,
            "capacity_in_use": 0,
            "capacity_total": 0,
            "agents_available": {},
            "agents_online": 0,
            "arrivals_15": 0,
            "arrivals_60": 0,
            "answers_15": 0,
            "answers_60": 0,
        }
    if not out:
        return out

    risk_until = now + timedelta(minutes=SLA_AT_RISK_MINUTES)
    sla_counted = ~Q(status__in=[CaseStatus.WAITING, CaseStatus.WRAP_UP])
    by_status = (
        Case.objects.filter(queue_id__in=ids, status__in=LIVE)
        .values("queue_id", "status")
        .annotate(
            n=Count("id"),
            units=Sum("units"),
            oldest=Min("queued_at"),
            avg_epoch=Avg(Epoch("queued_at")),
            at_risk=Count("id", filter=sla_counted & Q(sla_due_at__gt=now, sla_due_at__lte=risk_until)),
            breached=Count("id", filter=sla_counted & Q(sla_due_at__lte=now)),
        )
        .order_by()
    )
    waiting_sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
    for row in by_status:
        q = out[row["queue_id"]]
        status = row["status"]
        key = {
            CaseStatus.QUEUED: "waiting",
            CaseStatus.OFFERED: "offered",
            CaseStatus.ASSIGNED: "assigned",
            CaseStatus.WAITING: "waiting_on_customer",
            CaseStatus.WRAP_UP: "wrap_up",
        }[status]
        q[key] = row["n"]
        q["sla_at_risk"] += row["at_risk"]
        q["sla_breached"] += row["breached"]
        if status != CaseStatus.QUEUED:
            q["capacity_in_use"] += row["units"] or 0
        if status in WAITING and row["oldest"] is not None:
            oldest = _ts(row["oldest"])
            q["oldest_queued_at"] = oldest if q["oldest_queued_at"] is None else min(q["oldest_queued_at"], oldest)
            if row["avg_epoch"] is not None:
                acc = waiting_sums[row["queue_id"]]
                acc[0] += row["avg_epoch"] * row["n"]
                acc[1] += row["n"]
    for pk, (total, n) in waiting_sums.items():
        if n:
            out[pk]["average_queued_at"] = total / n

    hour_ago, quarter_ago = now - timedelta(minutes=60), now - timedelta(minutes=15)
    for field, prefix in (("created_at", "arrivals"), ("first_assigned_at", "answers")):
        rows = (
            Case.objects.filter(queue_id__in=ids, **{f"{field}__gte": hour_ago})
            .values("queue_id")
            .annotate(h=Count("id"), q=Count("id", filter=Q(**{f"{field}__gte": quarter_ago})))
            .order_by()
        )
        for row in rows:
            out[row["queue_id"]][f"{prefix}_60"] = row["h"]
            out[row["queue_id"]][f"{prefix}_15"] = row["q"]

    _agents_for_queues(out, queues, now)
    return out


def _agents_for_queues(out: dict[int, dict], queues: dict[int, dict], now: datetime) -> None:
    """Agents online for each queue (members, or everyone for an open queue)
    and how many have room per channel kind; their total capacity."""
    routable = {
        pk: (kinds, total)
        for pk, kinds, total in Agent.objects.filter(
            is_active=True, present_until__gt=now, status__isnull=False
        ).values_list("pk", "status__channel_kinds", "capacity_total")
        if kinds
    }
    direct: dict[int, set[int]] = defaultdict(set)
    for queue_id, agent_id in Queue.agents.through.objects.filter(queue_id__in=list(queues)).values_list(
        "queue_id", "agent_id"
    ):
        direct[queue_id].add(agent_id)
    if not routable:
        return
    ids = list(routable)
    teams: dict[int, set[int]] = defaultdict(set)
    for agent_id, team_id in Agent.teams.through.objects.filter(agent_id__in=ids).values_list("agent_id", "team_id"):
        teams[team_id].add(agent_id)
    capacity: dict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, kind, units in AgentCapacity.objects.filter(agent_id__in=ids).values_list(
        "agent_id", "channel_kind", "units"
    ):
        capacity[agent_id][kind] = units
    loads = agent_loads(ids)
    for pk, q in queues.items():
        team_id = q["team_id"]
        open_queue = team_id is None and not direct.get(pk)
        members = set(ids) if open_queue else (teams.get(team_id, set()) | direct.get(pk, set())) & set(ids)
        kinds_of_queue = set(q["channel_kinds"] or CHANNEL_KINDS)
        available: dict[str, int] = defaultdict(int)
        total = 0
        for agent_id in members:
            kinds, capacity_total = routable[agent_id]
            total += capacity_total
            load = loads.get(agent_id, {})
            if sum(load.values()) >= capacity_total:
                continue
            for kind in set(kinds) & kinds_of_queue:
                if capacity[agent_id].get(kind, 0) > load.get(kind, 0):
                    available[kind] += 1
        row = out[pk]
        row["agents_online"] = len(members)
        row["agents_available"] = dict(sorted(available.items()))
        row["capacity_total"] = total


# --- Agents -------------------------------------------------------------------


def agents_in(scope: Scope) -> list[int]:
    qs = Agent.objects.filter(is_active=True)
    if not scope.is_admin:
        qs = qs.filter(teams__in=scope.team_ids).distinct()
    return list(qs.values_list("pk", flat=True))


def agent_rows(agent_ids, now: datetime | None = None) -> dict[int, dict]:
    """Status and since when, load per channel kind against capacity,
    current cases and missed offers, in five queries for any number."""
    now = now or timezone.now()
    ids = list(agent_ids)
    if not ids:
        return {}
    agents = list(
        Agent.objects.filter(pk__in=ids).values(
            "pk",
            "display_name",
            "status_id",
            "status__name",
            "status__channel_kinds",
            "status_since",
            "status_reason",
            "present_until",
            "capacity_total",
            "missed_offers",
            "is_active",
        )
    )
    capacity: dict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, kind, units in AgentCapacity.objects.filter(agent_id__in=ids).values_list(
        "agent_id", "channel_kind", "units"
    ):
        capacity[agent_id][kind] = units
    teams: dict[int, list[int]] = defaultdict(list)
    for agent_id, team_id in Agent.teams.through.objects.filter(agent_id__in=ids).values_list("agent_id", "team_id"):
        teams[agent_id].append(team_id)
    cases: dict[int, list[dict]] = defaultdict(list)
    for pk, assignee_id, status, kind, queue_name in (
        Case.objects.filter(assignee_id__in=ids, status__in=HELD_STATUSES)
        .order_by("first_assigned_at", "pk")
        .values_list("pk", "assignee_id", "status", "channel_kind", "queue__name")
    ):
        cases[assignee_id].append({"id": pk, "status": status, "channel_kind": kind, "queue": queue_name})
    loads = agent_loads(ids)
    out = {}
    for a in agents:
        pk = a["pk"]
        present = a["present_until"] is not None and a["present_until"] > now
        out[pk] = {
            "id": pk,
            "name": a["display_name"],
            "active": a["is_active"],
            "team_ids": sorted(teams.get(pk, [])),
            "status_id": a["status_id"],
            "status": a["status__name"],
            "channel_kinds": list(a["status__channel_kinds"] or []),
            "status_since": _ts(a["status_since"]),
            "status_reason": a["status_reason"],
            "present": present,
            "capacity_total": a["capacity_total"],
            "capacities": dict(sorted(capacity.get(pk, {}).items())),
            "load": dict(sorted(loads.get(pk, {}).items())),
            "cases": cases.get(pk, []),
            "missed_offers": a["missed_offers"],
        }
    return out


# --- Escalations and history --------------------------------------------------


def escalation_payload(item: Escalation, team_id: int | None) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "case_id": item.case_id,
        "queue_id": item.queue_id,
        "team_id": team_id,
        "detail": item.detail,
        "at": _ts(item.created_at),
    }


def recent_escalations(scope: Scope, limit: int = FEED_LENGTH) -> list[dict]:
    qs = Escalation.objects.select_related("queue")
    if not scope.is_admin:
        qs = qs.filter(queue__team_id__in=scope.team_ids)
    return [escalation_payload(e, e.queue.team_id if e.queue_id else None) for e in qs[:limit]]


def load_history(queue_ids, now: datetime, hours: int = HISTORY_HOURS) -> dict[int, list[list]]:
    """Per-minute samples of waiting cases over the last hours, per queue."""
    out: dict[int, list[list]] = defaultdict(list)
    for queue_id, minute, waiting, assigned in (
        QueueLoadSample.objects.filter(queue_id__in=list(queue_ids), minute__gte=now - timedelta(hours=hours))
        .order_by("minute")
        .values_list("queue_id", "minute", "waiting", "assigned")
    ):
        out[queue_id].append([minute.timestamp(), waiting, assigned])
    return dict(out)


def sample_load(now: datetime) -> int:
    """Record this minute's load of every active queue (one grouped query,
    one insert; a second process sampling the same minute changes nothing)."""
    minute = now.replace(second=0, microsecond=0)
    counts: dict[int, dict[str, int]] = defaultdict(lambda: {"waiting": 0, "assigned": 0})
    for queue_id, status, n in (
        Case.objects.filter(status__in=LIVE, queue__is_active=True)
        .values_list("queue_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[queue_id]["waiting" if status in WAITING else "assigned"] += n
    rows = [
        QueueLoadSample(queue_id=pk, minute=minute, **counts.get(pk, {"waiting": 0, "assigned": 0}))
        for pk in Queue.objects.filter(is_active=True).values_list("pk", flat=True)
    ]
    QueueLoadSample.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def snapshot(scope: Scope, now: datetime | None = None) -> dict:
    """Everything a supervisor's dashboard shows (their scope), at once."""
    now = now or timezone.now()
    queue_ids = queues_in(scope)
    queues = queue_rows(queue_ids, now)
    agents = agent_rows(agents_in(scope), now)
    return {
        "now": now.timestamp(),
        "scope": {"admin": scope.is_admin, "team_ids": sorted(scope.team_ids)},
        "queues": sorted(queues.values(), key=lambda q: (q["priority"], q["name"])),
        "agents": sorted(agents.values(), key=lambda a: a["name"]),
        "escalations": recent_escalations(scope),
        "history": {str(k): v for k, v in load_history(queue_ids, now).items()},
        "statuses": [
            {"id": s.pk, "name": s.name, "channel_kinds": s.channel_kinds} for s in PresenceStatus.objects.all()
        ],
        "channel_kinds": list(CHANNEL_KINDS),
        "sla_at_risk_minutes": SLA_AT_RISK_MINUTES,
    }
