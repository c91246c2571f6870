"""Reads of SLA state shared by pages, the API, the router and other apps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from sla import calendars
from sla.core import hours
from sla.models import Clock, Promise


def clocks_for_case(case_id: int) -> QuerySet[Clock]:
    return Clock.objects.filter(case_id=case_id).select_related("policy").order_by("started_at", "pk")


def promises_for_customer(customer_id: int) -> QuerySet[Promise]:
    """A customer's promises across all their cases, newest due first (for the customer history)."""
    return Promise.objects.filter(customer_id=customer_id).select_related("agent", "case").order_by("-due_at", "-pk")


def promises_for_case(case_id: int) -> QuerySet[Promise]:
    return Promise.objects.filter(case_id=case_id).select_related("agent").order_by("due_at", "pk")


def seconds_left(sla_due_at: datetime | None, now: datetime) -> int | None:
    """Time to the next SLA target (negative once breached); None without one."""
    if sla_due_at is None:
        return None
    return int((sla_due_at - now).total_seconds())


@dataclass(frozen=True, slots=True)
class OpeningState:
    open_now: bool
    next_opening: datetime | None  # now when open; None: never (no hours)
    closes_at: datetime | None  # when open: when it closes; None around the clock

    def as_dict(self) -> dict:
        return {
            "open_now": self.open_now,
            "next_opening": self.next_opening.isoformat() if self.next_opening else None,
            "closes_at": self.closes_at.isoformat() if self.closes_at else None,
        }


def opening_state(calendar_id: int | None, now: datetime) -> OpeningState:
    """Whether a calendar (a queue's opening hours) is open now, and when it next opens."""
    schedule = calendars.schedule_for(calendar_id)
    if schedule is None:
        return OpeningState(open_now=True, next_opening=now, closes_at=None)
    opening = hours.next_opening(schedule, now)
    is_open = opening is not None and opening <= now
    return OpeningState(
        open_now=is_open, next_opening=opening, closes_at=hours.next_closing(schedule, now) if is_open else None
    )


def queue_opening(queue_id: int, now: datetime) -> OpeningState:
    from routing.models import Queue

    calendar_id = Queue.objects.filter(pk=queue_id).values_list("calendar_id", flat=True).first()
    return opening_state(calendar_id, now)


def closed_queue_ids(now: datetime) -> list[int]:
    """Queues outside their opening hours now (the router offers none of their cases)."""
    from routing.models import Queue

    closed = []
    rows = Queue.objects.filter(calendar__isnull=False).values_list("pk", "calendar_id", "calendar__updated_at")
    for queue_id, calendar_id, stamp in rows:
        if not hours.is_open(calendars.schedule_for(calendar_id, stamp), now):
            closed.append(queue_id)
    return closed
