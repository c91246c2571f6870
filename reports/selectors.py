"""The report: sums of hourly facts over a range, grouped by a dimension,
for what the reader may see, turned into the figures of docs/reports.md.
Finished hours come from the aggregates (one ``GROUP BY`` each); hours of
the last two days that the periodic task has not made final yet
(today's, the current one up to now) are computed live with the same code.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, Sum

from config.api import Invalid
from dashboards.scope import Scope
from reports.aggregate import HOUR, SETTLE, hour_floor
from reports.facts import facts_for
from reports.models import METRICS, AggregatedHour, DailyFact, Dimension, HourlyFact

LIVE_HORIZON = timedelta(days=2)
MAX_RANGE = timedelta(days=400)
# What a report groups by; the first five are columns of the facts.
GROUPINGS = ("queue", "team", "agent", "channel_kind", "tier", "sla", "hour", "day", "agent_status", "total")
AGENT_KEYED = {Dimension.AGENT, Dimension.AGENT_STATUS}
# The columns each dimension's rows carry (the others are always 0 there).
DIMENSION_METRICS: dict[str, tuple[str, ...]] = {
    Dimension.AGENT_STATUS: ("status_seconds",),
    Dimension.SLA: ("sla_met", "sla_breached"),
}
OTHER_METRICS = tuple(m for m in METRICS if m != "status_seconds")


@dataclass(frozen=True, slots=True)
class Range:
    since: datetime
    until: datetime
    zone: ZoneInfo


def parse_range(params, now: datetime) -> Range:
    """``since``/``until`` (ISO dates or datetimes; default: today so far) in
    ``tz`` (default UTC), checked; a clear ``Invalid`` otherwise."""
    name = params.get("tz") or "UTC"
    try:
        zone = ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        raise Invalid(f"unknown time zone {name[:60]!r}") from None
    local_now = now.astimezone(zone)

    def read(field: str, default: datetime) -> datetime:
        raw = params.get(field)
        if not raw:
            return default
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise Invalid(f"{field} must be a date (2026-11-24) or a date and time, got {raw[:40]!r}") from None
        if not 1970 <= value.year <= 9000:
            raise Invalid(f"{field} must be between the years 1970 and 9000")
        return value if value.tzinfo else value.replace(tzinfo=zone)

    since = read("since", local_now.replace(hour=0, minute=0, second=0, microsecond=0))
    until = read("until", now)
    if until <= since:
        raise Invalid("until must be after since")
    if until - since > MAX_RANGE:
        raise Invalid("a report covers at most 400 days")
    return Range(since=since, until=min(until, now), zone=zone)


def _live_hours(rng: Range, now: datetime) -> list[datetime]:
    """Hours of the range within the last two days whose facts are not final."""
    first = max(hour_floor(rng.since), hour_floor(now - LIVE_HORIZON))
    hours, at = [], first
    while at < rng.until:
        hours.append(at)
        at += HOUR
    final = set(
        AggregatedHour.objects.filter(hour__in=hours, computed_at__isnull=False).values_list("hour", "computed_at")
    )
    done = {hour for hour, computed in final if computed >= hour + HOUR + SETTLE}  # type: ignore[operator]  # not null
    return [h for h in hours if h not in done]


def _scoped(dimension: str, scope: Scope) -> Q:
    if scope.is_admin or dimension in AGENT_KEYED:
        return Q()
    return Q(team_id__in=sorted(scope.team_ids))


def _visible_agents(scope: Scope) -> set[str] | None:
    if scope.is_admin:
        return None
    from agents.models import Agent

    return {str(pk) for pk in Agent.objects.filter(teams__in=scope.team_ids).values_list("pk", flat=True)}


def _whole_days(rng: Range, live: list[datetime]) -> tuple[date, date] | None:
    """The UTC days [first, last) that lie wholly in the range with no live
    hour: read from the daily sums."""
    first = hour_floor(rng.since)
    if first.hour:
        first += timedelta(days=1)
    last = rng.until.astimezone(UTC)
    if live:
        last = min(last, live[0])
    first_day, last_day = first.date(), last.date()
    return (first_day, last_day) if first_day < last_day else None


def _stored(dimension: str, rng: Range, scope: Scope, live: list[datetime], by: str):
    """Querysets of stored sums: whole UTC days from ``DailyFact`` (unless
    grouping by hour), the hours around them from ``HourlyFact``."""
    hourly = HourlyFact.objects.filter(_scoped(dimension, scope), dimension=dimension)
    hourly = hourly.filter(hour__gte=hour_floor(rng.since), hour__lt=rng.until).exclude(hour__in=live)
    days = None if by == "hour" else _whole_days(rng, live)
    if days is None:
        return [hourly]
    start = datetime.combine(days[0], time(0), tzinfo=UTC)
    end = datetime.combine(days[1], time(0), tzinfo=UTC)
    daily = DailyFact.objects.filter(_scoped(dimension, scope), dimension=dimension, day__gte=days[0], day__lt=days[1])
    return [daily, hourly.filter(Q(hour__lt=start) | Q(hour__gte=end))]


def _live_facts(hour: datetime, now: datetime, cache: dict) -> dict:
    """The facts of a live hour, computed once per report (``cache``)."""
    if hour not in cache:
        cache[hour] = facts_for(hour, min(hour + HOUR, now))
    return cache[hour]


def sums(
    dimension: str, rng: Range, scope: Scope, now: datetime, *, by: str = "key", live_cache: dict | None = None
) -> dict:
    """{group: {metric: sum}}, grouping by fact ``key``, ``team_id`` or ``hour``."""
    live = _live_hours(rng, now)
    cache = {} if live_cache is None else live_cache
    metrics = DIMENSION_METRICS.get(dimension, OTHER_METRICS)
    groups: dict = defaultdict(lambda: defaultdict(float))
    for stored in _stored(dimension, rng, scope, live, by):
        for row in stored.values(by).annotate(**{m: Sum(m) for m in metrics}).order_by():
            target = groups[row.pop(by)]
            for name, value in row.items():
                target[name] += value or 0
    for hour in live:
        for (dim, key, team_id), values in _live_facts(hour, now, cache).items():
            if dim != dimension or not (scope.is_admin or dim in AGENT_KEYED or team_id in scope.team_ids):
                continue
            target = groups[{"key": key, "team_id": team_id, "hour": hour}[by]]
            for name, value in values.items():
                target[name] += value
    agents = _visible_agents(scope) if dimension in AGENT_KEYED else None
    if agents is not None:
        groups = {k: v for k, v in groups.items() if str(k).split(":")[0] in agents}
    return groups


def report(grouping: str, rng: Range, scope: Scope, now: datetime, *, live_cache: dict | None = None) -> list[dict]:
    """Rows of figures for one grouping (see GROUPINGS), labelled and sorted.
    Tables of one report share a ``live_cache`` (the live hours' facts)."""
    live_cache = {} if live_cache is None else live_cache
    from reports import figures

    if grouping not in GROUPINGS:
        raise Invalid(f"unknown grouping {grouping!r}: one of {', '.join(GROUPINGS)}")
    if grouping == "total":
        groups = sums(Dimension.ALL, rng, scope, now, by="team_id", live_cache=live_cache)
        total: defaultdict[str, float] = defaultdict(float)
        for values in groups.values():
            for name, value in values.items():
                total[name] += value
        return [figures.row("total", "All", total)]
    if grouping == "team":
        groups = sums(Dimension.ALL, rng, scope, now, by="team_id", live_cache=live_cache)
        return figures.rows(grouping, groups)
    if grouping in ("hour", "day"):
        by_hour = sums(Dimension.ALL, rng, scope, now, by="hour", live_cache=live_cache)
        return figures.rows(grouping, _by_local_time(by_hour, grouping, rng.zone))
    return figures.rows(grouping, sums(grouping, rng, scope, now, live_cache=live_cache))


def _by_local_time(by_hour: dict, grouping: str, zone: ZoneInfo) -> dict:
    """Hourly sums regrouped by local hour of day (0–23) or local date."""
    groups: dict = defaultdict(lambda: defaultdict(float))
    for hour, values in by_hour.items():
        local = hour.astimezone(zone)
        target = groups[local.hour if grouping == "hour" else local.date().isoformat()]
        for name, value in values.items():
            target[name] += value
    if grouping == "hour":
        for h in range(24):
            groups[h]  # every hour of the day gets a row, empty or not
    return groups
