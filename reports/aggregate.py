"""Keep the hourly facts: the periodic task's work.

Each past hour has an ``AggregatedHour`` row, created with an upsert that
ignores conflicts, so two runs create it once. Computing an hour locks its
row with ``SKIP LOCKED`` (another runner skips it), re-checks under the lock
that it still needs computing, replaces the hour's facts (delete, insert) and
marks it computed, all in one transaction: running twice gives the same
facts, running concurrently computes each hour once, and a runner that dies
rolls back and leaves the hour to the next run.

An hour is computed again until it was computed ``SETTLE`` after its end, so
writes that committed a little late (a slow transaction stamped inside the
hour) are counted.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q

from reports import presence
from reports.facts import facts_for
from reports.models import METRICS, AggregatedDay, AggregatedHour, DailyFact, HourlyFact

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
SETTLE = timedelta(minutes=5)
LOOKBACK_HOURS = 3


def hour_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ensure_hours(first: datetime, last: datetime) -> None:
    hours, at = [], first
    while at <= last:
        hours.append(AggregatedHour(hour=at))
        at += HOUR
    AggregatedHour.objects.bulk_create(hours, ignore_conflicts=True, batch_size=1000)


def _pending(now: datetime, first: datetime, last: datetime) -> list[datetime]:
    """Hours never computed, or computed before they settled."""
    rows = AggregatedHour.objects.filter(hour__gte=first, hour__lte=last).filter(
        Q(computed_at__isnull=True) | Q(computed_at__lt=F("hour") + HOUR + SETTLE)
    )
    return list(rows.order_by("hour").values_list("hour", flat=True))


def compute_hour(*, hour: datetime, now: datetime) -> bool:
    """Replace the facts of one hour; False when another runner holds it or
    it is already final."""
    with transaction.atomic():
        row = AggregatedHour.objects.select_for_update(skip_locked=True).filter(hour=hour).first()
        if row is None:
            return False
        if row.computed_at is not None and row.computed_at >= hour + HOUR + SETTLE:
            return False
        facts = facts_for(hour, hour + HOUR)
        HourlyFact.objects.filter(hour=hour).delete()
        HourlyFact.objects.bulk_create(
            [
                HourlyFact(hour=hour, dimension=dimension, key=key, team_id=team_id, **values)
                for (dimension, key, team_id), values in facts.items()
            ],
            batch_size=1000,
        )
        row.computed_at, row.fact_rows = now, len(facts)
        row.save(update_fields=["computed_at", "fact_rows"])
        rebuild_day(hour)
    return True


def rebuild_day(hour: datetime) -> None:
    """Replace the ``DailyFact`` rows of the hour's UTC day by the sum of its
    hours. Call in the transaction that wrote the hour: the day's lock makes
    rebuilds of one day take turns, so the last one (which sees every
    committed hour, and its own) is the one that stays."""
    day = hour.astimezone(UTC).date()
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    AggregatedDay.objects.bulk_create([AggregatedDay(day=day)], ignore_conflicts=True)
    AggregatedDay.objects.select_for_update().get(day=day)
    DailyFact.objects.filter(day=day).delete()
    table, source = DailyFact._meta.db_table, HourlyFact._meta.db_table
    columns = ", ".join(METRICS)
    sums = ", ".join(f"SUM({name})" for name in METRICS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, dimension, key, team_id, {columns}) "  # noqa: S608 (names from the models)
            f"SELECT %s, dimension, key, team_id, {sums} FROM {source} "
            "WHERE hour >= %s AND hour < %s GROUP BY dimension, key, team_id",
            [
                connection.ops.adapt_datefield_value(day),
                connection.ops.adapt_datetimefield_value(start),
                connection.ops.adapt_datetimefield_value(start + timedelta(days=1)),
            ],
        )


def aggregate_due(*, now: datetime, since: datetime | None = None) -> int:
    """Compute every finished hour from ``since`` (default: the last
    ``LOOKBACK_HOURS``) that is not final yet; returns how many were computed."""
    last = hour_floor(now) - HOUR
    first = hour_floor(since) if since is not None else last - (LOOKBACK_HOURS - 1) * HOUR
    presence.open_missing_spans(now=now)
    if first > last:
        return 0
    _ensure_hours(first, last)
    return sum(compute_hour(hour=hour, now=now) for hour in _pending(now, first, last))


_last_run: list[datetime] = []


def aggregate_now_and_then(now: datetime, *, every: timedelta = timedelta(minutes=1)) -> int:
    """``aggregate_due`` at most every ``every`` in this process (the tick
    runs every second); a failure is logged and never stops the tick."""
    if _last_run and now - _last_run[0] < every:
        return 0
    _last_run[:] = [now]
    try:
        return aggregate_due(now=now)
    except Exception:
        log.exception("reports aggregation failed")
        return 0
