"""Queues with opening hours: the router offers none of their cases while
closed, and the web chat widget can read whether a queue is open now and
when it next opens."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import CaseStatus
from routing.batch import route_case, route_waiting
from sla import selectors, services
from sla.models import BusinessCalendar, CustomClosedDate, OpeningHours
from tests import factories

pytestmark = pytest.mark.django_db

ZONE = "America/New_York"


def _all_week_calendar() -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(name="All week", time_zone=ZONE)
    for day in range(7):
        OpeningHours.objects.create(calendar=calendar, weekday=day, opens=time(0), closes=time(0))
    return calendar


def _close_today(calendar: BusinessCalendar) -> None:
    today = timezone.now().astimezone(ZoneInfo(ZONE)).date()
    CustomClosedDate.objects.create(calendar=calendar, date=today, name="Closed today")
    services.touch_calendar(calendar_id=calendar.pk)


def test_a_closed_queue_gets_no_offers_until_it_opens(queue, channel):
    calendar = _all_week_calendar()
    _close_today(calendar)
    queue.calendar = calendar
    queue.save()
    factories.agent("ana", capacity={"api": 3})
    case = factories.queued_case(channel)
    other = factories.queued_case(channel, queue=factories.queue("Always open"))

    assert route_case(case_id=case.pk, now=timezone.now()) is None
    assert route_waiting(now=timezone.now()) == 1  # only the open queue's case
    case.refresh_from_db()
    other.refresh_from_db()
    assert (case.status, other.status) == (CaseStatus.QUEUED, CaseStatus.OFFERED)

    CustomClosedDate.objects.filter(calendar=calendar).delete()
    services.touch_calendar(calendar_id=calendar.pk)
    assert route_case(case_id=case.pk, now=timezone.now()) is not None


def test_the_widget_reads_open_now_and_the_next_opening(queue):
    calendar = _all_week_calendar()
    queue.calendar = calendar
    queue.save()
    now = timezone.now()
    state = selectors.queue_opening(queue.pk, now)
    assert state.open_now
    _close_today(calendar)
    state = selectors.queue_opening(queue.pk, now)
    assert not state.open_now
    tomorrow = now.astimezone(ZoneInfo(ZONE)).date() + timedelta(days=1)
    assert state.next_opening == datetime.combine(tomorrow, time(0), tzinfo=ZoneInfo(ZONE))

    client = APIClient()
    client.force_authenticate(factories.user("widget"))
    body = client.get(f"/api/v1/sla/queue-opening/{queue.pk}/").json()
    assert body["open_now"] is False
    assert datetime.fromisoformat(body["next_opening"]) == state.next_opening
    assert client.get("/api/v1/sla/queue-opening/999999/").status_code == 404


def test_a_queue_without_a_calendar_is_always_open(queue):
    state = selectors.queue_opening(queue.pk, timezone.now())
    assert state.open_now and state.closes_at is None
