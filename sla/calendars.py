"""Business calendars as the pure arithmetic reads them (``sla.core.hours``),
cached per process by calendar and its last change."""

from __future__ import annotations

import threading
from datetime import date

from sla.core.hours import Opening, Schedule
from sla.models import BusinessCalendar


class ClosedDates:
    """Holidays from the ``holidays`` library (years loaded on demand) plus custom dates."""

    def __init__(self, custom: frozenset[date], country: str, subdivision: str) -> None:
        self.custom = custom
        self._library = None
        if country:
            import holidays

            self._library = holidays.country_holidays(country, subdiv=subdivision or None)
        self._lock = threading.Lock()

    def __contains__(self, day: object) -> bool:
        if day in self.custom:
            return True
        if self._library is None:
            return False
        with self._lock:  # the library fills a year's dates on first look
            return day in self._library


_cache: dict[int, tuple[object, Schedule]] = {}
_cache_lock = threading.Lock()


def _minutes(t) -> int:
    return t.hour * 60 + t.minute


def build_schedule(calendar: BusinessCalendar) -> Schedule:
    openings = tuple(
        Opening(weekday=h.weekday, opens=_minutes(h.opens), closes=_minutes(h.closes)) for h in calendar.hours.all()
    )
    custom = frozenset(calendar.closed_dates.values_list("date", flat=True))
    return Schedule(
        zone=calendar.time_zone,
        openings=openings,
        closed_dates=ClosedDates(custom, calendar.holiday_country, calendar.holiday_subdivision),
    )


def schedule_for(calendar_id: int | None, stamp=None) -> Schedule | None:
    """The calendar's schedule; None (around the clock) for no calendar.
    Reads one row when cached (none when the caller passes the calendar's
    ``updated_at`` as ``stamp``); edits go through ``sla.configuration.save_calendar``."""
    if calendar_id is None:
        return None
    if stamp is None:
        stamp = BusinessCalendar.objects.filter(pk=calendar_id).values_list("updated_at", flat=True).first()
    if stamp is None:
        return None
    with _cache_lock:
        cached = _cache.get(calendar_id)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    calendar = BusinessCalendar.objects.prefetch_related("hours").get(pk=calendar_id)
    schedule = build_schedule(calendar)
    with _cache_lock:
        _cache[calendar_id] = (stamp, schedule)
    return schedule


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
