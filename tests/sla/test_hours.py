"""Business-hours arithmetic (sla.core.hours), property-tested: weekends,
holidays, daylight-saving changes in Europe/Prague and America/New_York,
schedules crossing midnight, and pauses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sla.core.hours import (
    NeverOpen,
    Opening,
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
    next_closing,
    next_opening,
)

ZONES = ["Europe/Prague", "America/New_York"]
# Instants around the DST changes of both zones in 2026 (and ordinary weeks).
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 11, 30, tzinfo=UTC)
DST_DAYS = [
    datetime(2026, 3, 8, tzinfo=UTC),  # New York springs forward
    datetime(2026, 3, 29, tzinfo=UTC),  # Prague springs forward
    datetime(2026, 10, 25, tzinfo=UTC),  # Prague falls back
    datetime(2026, 11, 1, tzinfo=UTC),  # New York falls back
]
PRAGUE_HOLIDAYS = {date(2026, 4, 3), date(2026, 4, 6), date(2026, 5, 1), date(2026, 5, 8), date(2026, 10, 28)}

# Per test, not a global profile: other modules' hypothesis settings stay theirs.
thorough = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def instants():
    near_dst = st.sampled_from(DST_DAYS).flatmap(
        lambda d: st.integers(-3 * 24 * 60, 3 * 24 * 60).map(lambda m: d + timedelta(minutes=m))
    )
    anywhere = st.datetimes(
        min_value=START.replace(tzinfo=None), max_value=END.replace(tzinfo=None), timezones=st.just(UTC)
    )
    return st.one_of(near_dst, anywhere)


minutes = st.integers(0, 24 * 60 - 1).map(lambda m: m - m % 15)


@st.composite
def openings(draw, *, avoid_dst_hours: bool = False):
    weekday = draw(st.integers(0, 6))
    if avoid_dst_hours:  # whole local hours outside 01:00–04:00, where clocks change
        hours = st.sampled_from([0, 4, 5, 6, 8, 9, 12, 13, 17, 18, 20, 22, 23, 24])
        opens = draw(hours.filter(lambda h: h < 24)) * 60
        closes = draw(hours) * 60
    else:
        opens = draw(minutes)
        closes = draw(st.one_of(minutes, st.just(24 * 60)))
    return Opening(weekday=weekday, opens=opens, closes=closes)


@st.composite
def schedules(draw, *, avoid_dst_hours: bool = False):
    zone = draw(st.sampled_from(ZONES))
    chosen = tuple(draw(st.lists(openings(avoid_dst_hours=avoid_dst_hours), min_size=1, max_size=8)))
    holidays = frozenset(draw(st.lists(st.sampled_from(sorted(PRAGUE_HOLIDAYS | {date(2026, 7, 3)})), max_size=3)))
    return Schedule(zone=zone, openings=chosen, closed_dates=holidays)


@st.composite
def pauses(draw, around: datetime):
    out = []
    for _ in range(draw(st.integers(0, 3))):
        start = around + timedelta(minutes=draw(st.integers(-2 * 24 * 60, 5 * 24 * 60)))
        length = draw(st.one_of(st.none(), st.integers(1, 3 * 24 * 60)))
        out.append((start, None if length is None else start + timedelta(minutes=length)))
    return out


amounts = st.integers(0, 5 * 24 * 3600).map(lambda s: timedelta(seconds=s))


# --- Properties -------------------------------------------------------------------


@thorough
@given(schedules(), instants(), amounts, st.data())
def test_time_added_is_the_time_between(schedule, start, amount, data):
    paused = data.draw(pauses(start))
    try:
        due = add_business_time(schedule, start, amount, paused)
    except NeverOpen:
        assume(False)
    assert due >= start
    assert business_time_between(schedule, start, due, paused) == amount


@thorough
@given(schedules(), instants(), amounts, amounts, st.data())
def test_adding_in_two_steps_is_adding_once(schedule, start, first, second, data):
    paused = data.draw(pauses(start))
    try:
        whole = add_business_time(schedule, start, first + second, paused)
        middle = add_business_time(schedule, start, first, paused)
    except NeverOpen:
        assume(False)
    assume(second > timedelta(0))
    assert add_business_time(schedule, middle, second, paused) == whole


@thorough
@given(schedules(), instants(), instants(), instants(), st.data())
def test_time_between_adds_up_and_never_exceeds_wall_time(schedule, a, b, c, data):
    a, b, c = sorted([a, b, c])
    paused = data.draw(pauses(a))
    ab = business_time_between(schedule, a, b, paused)
    bc = business_time_between(schedule, b, c, paused)
    assert ab + bc == business_time_between(schedule, a, c, paused)
    assert timedelta(0) <= ab <= b - a
    assert business_time_between(schedule, b, a, paused) == timedelta(0)


@thorough
@given(schedules(), instants(), st.integers(1, 5 * 24 * 3600))
def test_a_due_time_falls_at_the_end_of_counting_time(schedule, start, seconds):
    """Just before the due time the schedule is open: time is never added
    across a closed stretch it could not count."""
    try:
        due = add_business_time(schedule, start, timedelta(seconds=seconds))
    except NeverOpen:
        assume(False)
    assert is_open(schedule, due - timedelta(microseconds=1))


@thorough
@given(instants(), amounts, st.data())
def test_around_the_clock_counts_wall_time_less_pauses(start, amount, data):
    paused = data.draw(pauses(start))
    try:
        due = add_business_time(None, start, amount, paused)
    except NeverOpen:  # an open-ended pause that starts before the amount is used
        assert any(end is None for _, end in paused)
        return
    covered = timedelta(0)
    spans = sorted((s, e or datetime.max.replace(tzinfo=UTC)) for s, e in paused)
    # Brute force: the paused part of [start, due), interval by interval.
    cursor = start
    for s, e in spans:
        s, e = max(s, cursor), min(e, due)
        if e > s:
            covered += e - s
            cursor = e
    assert due - start - covered == amount


def _oracle_open(schedule: Schedule, at: datetime) -> bool:
    """Open by reading local wall time directly (no interval arithmetic)."""
    local = at.astimezone(ZoneInfo(schedule.zone))
    minute = local.hour * 60 + local.minute
    today, yesterday = local.date(), local.date() - timedelta(days=1)
    for o in schedule.openings:
        end = o.end_minute
        if o.weekday == today.weekday() and today not in schedule.closed_dates and o.opens <= minute < end:
            return True
        if (
            o.weekday == yesterday.weekday()
            and yesterday not in schedule.closed_dates
            and end > 24 * 60
            and minute < end - 24 * 60
        ):
            return True
    return False


@thorough
@given(schedules(avoid_dst_hours=True), instants(), st.integers(1, 4 * 24))
def test_time_between_matches_a_walk_over_every_quarter_hour(schedule, start, quarters):
    """Against an independent oracle that reads local wall time, also across
    DST changes (schedules on whole hours away from the hours that change)."""
    start = start.replace(minute=start.minute - start.minute % 15, second=0, microsecond=0)
    end = start + timedelta(minutes=15 * quarters)
    expected = timedelta(0)
    at = start
    while at < end:
        if _oracle_open(schedule, at):
            expected += timedelta(minutes=15)
        assert is_open(schedule, at) == _oracle_open(schedule, at)
        at += timedelta(minutes=15)
    assert business_time_between(schedule, start, end) == expected


@thorough
@given(schedules(), instants())
def test_next_opening_is_open_and_nothing_before_it_is(schedule, at):
    opening = next_opening(schedule, at)
    assume(opening is not None)
    assert opening >= at
    assert is_open(schedule, opening)
    assert business_time_between(schedule, at, opening) == timedelta(0)
    closing = next_closing(schedule, at)
    assert closing is not None and closing > opening
    assert business_time_between(schedule, opening, closing) == closing - opening


# --- Examples that pin the meaning ----------------------------------------------------


def _weekdays(opens: int, closes: int, zone: str = "Europe/Prague", closed=frozenset()) -> Schedule:
    return Schedule(zone=zone, openings=tuple(Opening(d, opens, closes) for d in range(5)), closed_dates=closed)


def test_friday_afternoon_carries_over_the_weekend():
    schedule = _weekdays(9 * 60, 17 * 60)
    friday_4pm = datetime(2026, 11, 27, 16, 0, tzinfo=ZoneInfo("Europe/Prague"))
    due = add_business_time(schedule, friday_4pm, timedelta(hours=2))
    assert due == datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo("Europe/Prague"))


def test_a_holiday_counts_nothing():
    schedule = _weekdays(9 * 60, 17 * 60, closed=frozenset({date(2026, 5, 1)}))
    zone = ZoneInfo("Europe/Prague")
    assert business_time_between(schedule, datetime(2026, 5, 1, tzinfo=zone), datetime(2026, 5, 2, tzinfo=zone)) == (
        timedelta(0)
    )
    thursday_4pm = datetime(2026, 4, 30, 16, 0, tzinfo=zone)
    assert add_business_time(schedule, thursday_4pm, timedelta(hours=2)) == datetime(2026, 5, 4, 10, 0, tzinfo=zone)


def test_a_night_shift_runs_past_midnight_and_belongs_to_the_day_it_starts():
    zone = "America/New_York"
    schedule = Schedule(zone=zone, openings=(Opening(4, 22 * 60, 6 * 60),))  # Fri 22:00 – Sat 06:00
    tz = ZoneInfo(zone)
    friday_10pm = datetime(2026, 11, 27, 22, 0, tzinfo=tz)
    assert add_business_time(schedule, friday_10pm, timedelta(hours=7)) == datetime(2026, 11, 28, 5, 0, tzinfo=tz)
    assert is_open(schedule, datetime(2026, 11, 28, 3, 0, tzinfo=tz))
    closed_friday = Schedule(zone=zone, openings=schedule.openings, closed_dates=frozenset({date(2026, 11, 27)}))
    assert not is_open(closed_friday, datetime(2026, 11, 28, 3, 0, tzinfo=tz))


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Prague", date(2026, 3, 29), 23),  # clocks go forward: a 23-hour day
        ("Europe/Prague", date(2026, 10, 25), 25),  # clocks go back: a 25-hour day
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
    ],
)
def test_an_all_day_schedule_counts_real_hours_on_dst_days(zone, day, hours):
    schedule = Schedule(zone=zone, openings=tuple(Opening(d, 0, 24 * 60) for d in range(7)))
    tz = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    assert business_time_between(schedule, start, end) == timedelta(hours=hours)


def test_office_hours_on_a_dst_day_are_still_eight_hours():
    schedule = _weekdays(9 * 60, 17 * 60, zone="America/New_York")
    tz = ZoneInfo("America/New_York")
    monday = datetime(2026, 3, 9, tzinfo=tz)  # the day after the change
    assert business_time_between(schedule, monday, monday + timedelta(days=1)) == timedelta(hours=8)


def test_a_pause_stops_the_count_and_a_resume_restarts_it():
    schedule = _weekdays(9 * 60, 17 * 60)
    tz = ZoneInfo("Europe/Prague")
    start = datetime(2026, 11, 23, 9, 0, tzinfo=tz)
    paused = [(datetime(2026, 11, 23, 10, 0, tzinfo=tz), datetime(2026, 11, 23, 15, 0, tzinfo=tz))]
    assert add_business_time(schedule, start, timedelta(hours=2), paused) == datetime(2026, 11, 23, 16, 0, tzinfo=tz)
    open_ended = [(datetime(2026, 11, 23, 10, 0, tzinfo=tz), None)]
    with pytest.raises(NeverOpen):
        add_business_time(schedule, start, timedelta(hours=2), open_ended)


def test_a_schedule_without_hours_never_opens():
    schedule = Schedule(zone="UTC", openings=())
    with pytest.raises(NeverOpen):
        add_business_time(schedule, START, timedelta(seconds=1))
    assert next_opening(schedule, START) is None
