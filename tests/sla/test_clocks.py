"""Clocks follow the case: started by policy, met by answers and resolution,
paused while waiting on the customer, restarted on re-opening; counted in
business hours; a policy change applies to new clocks and is recorded."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.models import Case, CaseEvent, CaseStatus
from routing.supervision import assign_case
from sla import services
from sla.models import BusinessCalendar, Clock, CustomClosedDate, OpeningHours, SlaPolicy
from tests import factories
from tests.sla.conftest import make_policy, set_waiting

pytestmark = pytest.mark.django_db


def _clocks(case, **filters):
    return {c.target: c for c in Clock.objects.filter(case=case, **filters).order_by("pk")}


def _held(deliver, channel, committing, agent=None):
    """A case from a webhook, assigned to an agent."""
    deliver(channel, factories.payload(id=f"m-{Case.objects.count() + 1}"))
    case = Case.objects.latest("pk")
    agent = agent or factories.agent("ana", presence=None)
    with committing():
        assign_case(case_id=case.pk, agent_id=agent.pk, now=timezone.now(), force=True)
    case.refresh_from_db()
    return case, agent


def test_a_new_case_starts_first_response_and_resolution_clocks(deliver, channel, policy):
    deliver(channel, factories.payload())
    case = Case.objects.get()
    clocks = _clocks(case)
    assert set(clocks) == {"first_response", "resolution"}
    first = clocks["first_response"]
    assert first.status == Clock.Status.RUNNING
    assert first.due_at == case.created_at + timedelta(minutes=10)
    assert first.warn_at == case.created_at + timedelta(minutes=8)
    assert clocks["resolution"].due_at == case.created_at + timedelta(minutes=60)
    assert case.sla_due_at == first.due_at
    assert case.route_rank <= case.sla_due_at  # the router serves by time to breach
    assert case.events.filter(kind=CaseEvent.Kind.SLA_STARTED).count() == 2


def test_no_policy_matching_means_no_clocks(deliver, channel):
    make_policy("Email only", match_channel_kinds=["email"])
    deliver(channel, factories.payload())
    assert not Clock.objects.exists()
    assert Case.objects.get().sla_due_at is None


def test_the_first_matching_policy_in_admin_order_wins(channel, queue):
    other = factories.queue("Other")
    make_policy("VIP", order=1, match_customer_tiers=["vip"], first_response_minutes=2)
    make_policy("Urgent in General", order=2, match_priorities=[1], match_queues=[queue], first_response_minutes=5)
    make_policy("Everything", order=3, first_response_minutes=30)
    now = timezone.now()
    vip = factories.queued_case(channel, tier="vip", priority=1)
    urgent = factories.queued_case(channel, priority=1)
    urgent_elsewhere = factories.queued_case(channel, priority=1, queue=other)
    normal = factories.queued_case(channel)
    for case in (vip, urgent, urgent_elsewhere, normal):
        services.sync_case(case_id=case.pk, now=now)
    names = {c.pk: Clock.objects.filter(case=c).first().policy.name for c in (vip, urgent, urgent_elsewhere, normal)}
    assert names == {
        vip.pk: "VIP",
        urgent.pk: "Urgent in General",
        urgent_elsewhere.pk: "Everything",
        normal.pk: "Everything",
    }


def test_the_agents_first_reply_meets_the_first_response_target(deliver, channel, committing, policy):
    case, agent = _held(deliver, channel, committing)
    with committing():
        case_services.send_reply(case_id=case.pk, agent=agent, text="On it.", now=timezone.now())
    clocks = _clocks(case)
    assert clocks["first_response"].status == Clock.Status.MET
    assert clocks["resolution"].status == Clock.Status.RUNNING
    assert case.events.filter(kind=CaseEvent.Kind.SLA_MET, data__target="first_response").exists()
    case.refresh_from_db()
    assert case.sla_due_at == clocks["resolution"].due_at


def test_each_customer_message_waiting_for_an_answer_runs_a_next_response_clock(deliver, channel, committing, policy):
    case, agent = _held(deliver, channel, committing)
    with committing():
        case_services.send_reply(case_id=case.pk, agent=agent, text="On it.", now=timezone.now())
    deliver(channel, factories.payload(id="m-again", text="Any news?"))
    nxt = Clock.objects.get(case=case, target="next_response")
    assert nxt.status == Clock.Status.RUNNING
    assert nxt.due_at == nxt.started_at + timedelta(minutes=15)
    with committing():
        case_services.send_reply(case_id=case.pk, agent=agent, text="Shipped today.", now=timezone.now())
    nxt.refresh_from_db()
    assert nxt.status == Clock.Status.MET
    deliver(channel, factories.payload(id="m-third", text="Thanks, one more thing"))
    assert Clock.objects.filter(case=case, target="next_response").count() == 2
    assert Clock.objects.filter(case=case, target="next_response", status="running").count() == 1


def test_waiting_on_the_customer_pauses_resolution_and_their_reply_resumes_it(deliver, channel, committing, policy):
    case, agent = _held(deliver, channel, committing)
    with committing():
        set_waiting(case)
    resolution = Clock.objects.get(case=case, target="resolution")
    assert resolution.status == Clock.Status.PAUSED
    assert resolution.due_at is None
    assert case.events.filter(kind=CaseEvent.Kind.SLA_PAUSED).exists()
    deliver(channel, factories.payload(id="m-back", text="Here is the photo"))
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
    resolution.refresh_from_db()
    assert resolution.status == Clock.Status.RUNNING
    assert case.events.filter(kind=CaseEvent.Kind.SLA_RESUMED).exists()


def test_paused_time_does_not_count(channel, policy):
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    case = factories.held_case(channel, factories.agent("bo", presence=None), at=t0)
    services.sync_case(case_id=case.pk, now=t0)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.WAITING)
    services.sync_case(case_id=case.pk, now=t0 + timedelta(minutes=10))
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.ASSIGNED)
    services.sync_case(case_id=case.pk, now=t0 + timedelta(minutes=40))
    resolution = Clock.objects.get(case=case, target="resolution")
    assert resolution.consumed_seconds == 600
    assert resolution.due_at == t0 + timedelta(minutes=40 + 50)
    case.refresh_from_db()
    assert case.sla_due_at == t0 + timedelta(minutes=10)  # the first response still runs


def test_resolving_meets_resolution_and_stops_the_response_clocks(deliver, channel, committing, policy):
    case, agent = _held(deliver, channel, committing)
    with committing():
        case_services.resolve_case(case_id=case.pk, agent=agent, now=timezone.now())
    clocks = _clocks(case)
    assert clocks["resolution"].status == Clock.Status.MET
    assert clocks["first_response"].status == Clock.Status.STOPPED
    case.refresh_from_db()
    assert case.sla_due_at is None


@pytest.mark.parametrize(("how", "consumed"), [("restart", 0), ("continue", 600)])
def test_reopening_restarts_or_continues_resolution_as_the_policy_says(channel, how, consumed):
    make_policy(on_reopen=how)
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    case = factories.held_case(channel, factories.agent("cy", presence=None), at=t0)
    services.sync_case(case_id=case.pk, now=t0)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.RESOLVED, resolved_at=t0 + timedelta(minutes=10))
    services.sync_case(case_id=case.pk, now=t0 + timedelta(minutes=10))
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.NEW, resolved_at=None, assignee=None)
    services.sync_case(case_id=case.pk, now=t0 + timedelta(hours=2))
    clocks = list(Clock.objects.filter(case=case, target="resolution").order_by("pk"))
    assert [c.status for c in clocks] == ["met", "running"]
    assert clocks[1].consumed_seconds == consumed
    assert clocks[1].due_at == t0 + timedelta(hours=2, seconds=3600 - consumed)


def test_reopening_starts_nothing_when_the_policy_says_so(channel):
    make_policy(on_reopen="nothing")
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    case = factories.held_case(channel, factories.agent("di", presence=None), at=t0)
    services.sync_case(case_id=case.pk, now=t0)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.RESOLVED, resolved_at=t0)
    services.sync_case(case_id=case.pk, now=t0)
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.NEW, resolved_at=None, assignee=None)
    services.sync_case(case_id=case.pk, now=t0 + timedelta(hours=1))
    assert not Clock.objects.filter(case=case, status="running", target="resolution").exists()


def _office(name="Prague office") -> BusinessCalendar:
    calendar = BusinessCalendar.objects.create(name=name, time_zone="Europe/Prague", holiday_country="CZ")
    for day in range(5):
        OpeningHours.objects.create(calendar=calendar, weekday=day, opens=time(9), closes=time(17))
    return calendar


def test_a_business_hours_policy_counts_only_open_hours_and_skips_holidays(channel):
    calendar = _office()
    CustomClosedDate.objects.create(calendar=calendar, date=datetime(2026, 11, 30).date(), name="Company day")
    make_policy(calendar=calendar, first_response_minutes=60, resolution_minutes=0)
    prague = ZoneInfo("Europe/Prague")
    friday_430pm = datetime(2026, 11, 27, 16, 30, tzinfo=prague)
    case = factories.queued_case(channel, at=friday_430pm)
    services.sync_case(case_id=case.pk, now=friday_430pm)
    clock = Clock.objects.get(case=case)
    # 30 min on Friday; Monday 30 Nov is a custom closed date: Tuesday 09:30.
    assert clock.due_at == datetime(2026, 12, 1, 9, 30, tzinfo=prague)


def test_library_holidays_close_the_calendar(channel):
    calendar = _office()
    make_policy(calendar=calendar, first_response_minutes=60, resolution_minutes=0)
    prague = ZoneInfo("Europe/Prague")
    christmas_eve = datetime(2026, 12, 23, 16, 30, tzinfo=prague)  # 24–26 Dec are Czech holidays
    case = factories.queued_case(channel, at=christmas_eve)
    services.sync_case(case_id=case.pk, now=christmas_eve)
    assert Clock.objects.get(case=case).due_at == datetime(2026, 12, 28, 9, 30, tzinfo=prague)


def test_a_policy_change_applies_to_new_clocks_and_is_recorded(channel, policy):
    now = timezone.now()
    old_case = factories.queued_case(channel)
    services.sync_case(case_id=old_case.pk, now=now)
    policy.first_response_minutes = 3
    policy.save()
    revision = services.record_revision(policy=policy, now=now)
    assert revision.number == 2
    assert revision.snapshot["first_response_minutes"] == 3
    assert services.record_revision(policy=policy, now=now).number == 2  # nothing changed: no new revision
    new_case = factories.queued_case(channel)
    services.sync_case(case_id=new_case.pk, now=now)
    assert Clock.objects.get(case=old_case, target="first_response").target_seconds == 600
    assert Clock.objects.get(case=new_case, target="first_response").target_seconds == 180
    assert list(SlaPolicy.objects.get().revisions.values_list("number", flat=True)) == [2, 1]


def test_a_customer_message_after_resolution_reopens_the_case_and_restarts_resolution(
    deliver, channel, committing, policy, settings
):
    # No satisfaction survey: as our last outbound message it would make the
    # customer's new message start a next-response clock too.
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"SURVEYS_ENABLED": False}
    case, agent = _held(deliver, channel, committing)
    with committing():
        case_services.resolve_case(case_id=case.pk, agent=agent, now=timezone.now())
    deliver(channel, factories.payload(id="m-reopen", text="It broke again"))
    case.refresh_from_db()
    assert case.status in (CaseStatus.QUEUED, CaseStatus.OFFERED)
    assert case.events.filter(kind=CaseEvent.Kind.REOPENED).exists()
    resolutions = list(Clock.objects.filter(case=case, target="resolution").order_by("pk"))
    assert [c.status for c in resolutions] == ["met", "running"]
    assert resolutions[1].consumed_seconds == 0
    assert case.sla_due_at == resolutions[1].due_at
