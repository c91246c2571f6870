"""Business-hours arithmetic over a weekly schedule in a named time zone.

Pure Python (no Django): plain data in, plain data out, so it can be
property-tested and reused by the simulator.

A ``Schedule`` is a set of weekly opening intervals in local wall time, a
time zone (``zoneinfo`` name) and closed dates (holidays and custom dates).
An interval whose closing time is not after its opening time crosses
midnight (Fri 22:00–06:00 runs into Saturday); opening == closing is a whole
24 hours. A closed date closes the intervals that *start* on it (a night
shift belongs to the day it starts). Local times that do not exist (the hour
skipped when clocks go forward) are read as ``zoneinfo`` reads them with
``fold=0``; ambiguous ones (the hour repeated when clocks go back) mean
their first occurrence. Every instant in and out is an aware datetime; the
arithmetic is exact (microseconds), in real elapsed time.

``pauses`` are intervals of real time that do not count (a clock waiting on
the customer); an open-ended pause is ``(start, None)``.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 24 * 60
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
MAX_SEARCH_DAYS = 366 * 4  # a schedule closed for this long is treated as never opening
ZERO = timedelta(0)

Interval = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]


class NeverOpen(ValueError):
    """The schedule has no open time within the search horizon."""


@dataclass(frozen=True, slots=True)
class Opening:
    """Open on ``weekday`` (0 = Monday) from ``opens`` to ``closes``, minutes
    after local midnight; ``closes <= opens`` crosses midnight."""

    weekday: int
    opens: int
    closes: int

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
        if not 0 <= self.opens < DAY_MINUTES or not 0 <= self.closes <= DAY_MINUTES:
            raise ValueError("opens must be in [0, 1440) minutes and closes in [0, 1440]")

    @property
    def end_minute(self) -> int:
        """Closing, in minutes after the opening day's local midnight."""
        return self.closes if self.closes > self.opens else self.closes + DAY_MINUTES


@dataclass(frozen=True, slots=True)
class Schedule:
    zone: str
    openings: tuple[Opening, ...]
    closed_dates: Container[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        ZoneInfo(self.zone)  # raises for an unknown zone


ALWAYS = None  # a schedule of None counts around the clock (24/7)


def _local_instant(tz: ZoneInfo, day: date, minutes: int) -> datetime:
    day = day + timedelta(days=minutes // DAY_MINUTES)
    minutes %= DAY_MINUTES
    local = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
    return local.astimezone(UTC)


def _raw_intervals(schedule: Schedule, first_day: date) -> Iterator[Interval]:
    """Open intervals day by day from ``first_day``, in order of their start."""
    tz = ZoneInfo(schedule.zone)
    by_day: dict[int, list[Opening]] = {}
    for opening in schedule.openings:
        by_day.setdefault(opening.weekday, []).append(opening)
    for openings in by_day.values():
        openings.sort(key=lambda o: (o.opens, o.end_minute))
    for offset in range(MAX_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        todays = by_day.get(day.weekday())
        if not todays or day in schedule.closed_dates:
            continue
        for opening in todays:
            start = _local_instant(tz, day, opening.opens)
            end = _local_instant(tz, day, opening.end_minute)
            if end > start:
                yield start, end


def open_intervals(schedule: Schedule | None, since: datetime) -> Iterator[Interval]:
    """Merged open intervals from ``since`` on (the first one clipped to it)."""
    since = since.astimezone(UTC)
    if schedule is None:
        yield since, FOREVER
        return
    if not schedule.openings:
        return
    first_day = since.astimezone(ZoneInfo(schedule.zone)).date() - timedelta(days=1)
    current: Interval | None = None
    for start, end in _raw_intervals(schedule, first_day):
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current is not None and current[1] > since:
            yield max(current[0], since), current[1]
        current = (start, end)
    if current is not None and current[1] > since:
        yield max(current[0], since), current[1]


def _merged_pauses(pauses: Iterable[Pause]) -> list[Interval]:
    spans = sorted((s.astimezone(UTC), (e or FOREVER).astimezone(UTC)) for s, e in pauses)
    merged: list[Interval] = []
    for start, end in spans:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def counting_intervals(schedule: Schedule | None, since: datetime, pauses: Sequence[Pause] = ()) -> Iterator[Interval]:
    """The time that counts from ``since`` on: open, and not paused."""
    paused = _merged_pauses(pauses)
    index = 0
    for start, end in open_intervals(schedule, since):
        cursor = start
        while index < len(paused) and paused[index][1] <= cursor:
            index += 1
        probe = index
        while cursor < end:
            if probe >= len(paused) or paused[probe][0] >= end:
                yield cursor, end
                break
            pause_start, pause_end = paused[probe]
            if pause_start > cursor:
                yield cursor, pause_start
            cursor = max(cursor, pause_end)
            probe += 1


def add_business_time(
    schedule: Schedule | None, start: datetime, amount: timedelta, pauses: Sequence[Pause] = ()
) -> datetime:
    """The earliest instant by which ``amount`` of counting time has passed
    since ``start``. ``amount`` of zero (or less) is ``start`` itself."""
    start = start.astimezone(UTC)
    if amount <= ZERO:
        return start
    remaining = amount
    for begin, end in counting_intervals(schedule, start, pauses):
        span = end - begin
        if span >= remaining:
            return begin + remaining
        remaining -= span
    raise NeverOpen("no business time within the search horizon")


def business_time_between(
    schedule: Schedule | None, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Counting time in ``[start, end)``; zero when ``end`` is not after ``start``."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = ZERO
    if end <= start:
        return total
    for begin, finish in counting_intervals(schedule, start, pauses):
        if begin >= end:
            break
        total += min(finish, end) - begin
        if finish >= end:
            break
    return total


def is_open(schedule: Schedule | None, at: datetime) -> bool:
    at = at.astimezone(UTC)
    first = next(open_intervals(schedule, at), None)
    return first is not None and first[0] == at


def next_opening(schedule: Schedule | None, at: datetime) -> datetime | None:
    """``at`` itself when open, else when it next opens (None: never)."""
    first = next(open_intervals(schedule, at), None)
    return first[0] if first else None


def next_closing(schedule: Schedule | None, at: datetime) -> datetime | None:
    """When the open interval around ``at`` (or the next one) closes; None around the clock."""
    first = next(open_intervals(schedule, at), None)
    if first is None or first[1] == FOREVER:
        return None
    return first[1]
