"""The scan fires each warning and breach exactly once, with its escalation
actions, never on a case whose event was missed, and again after a scanner
died mid-way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail

from agents.models import Role, Team
from cases.events import EscalationRaised
from cases.models import Case, CaseEvent, CaseStatus
from sla import scan as sla_scan
from sla import services
from sla.models import Clock, EscalationAction
from tests import factories
from tests.events import capture_events, like
from tests.sla.conftest import make_policy

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def feed():
    """The escalations the test's scans raised (on commit)."""
    with capture_events(EscalationRaised) as got:
        yield got


def _case(channel, *, agent=None, at=T0):
    if agent is not None:
        case = factories.held_case(channel, agent, at=at)
    else:
        case = factories.queued_case(channel, at=at)
    services.sync_case(case_id=case.pk, now=at)
    return Case.objects.get(pk=case.pk)


def _kinds(case):
    return list(
        case.events.filter(kind__startswith="sla_").exclude(kind="sla_started").values_list("kind", "data__target")
    )


def test_a_warning_and_a_breach_fire_exactly_once(channel, committing):
    make_policy(first_response_minutes=10, resolution_minutes=0)
    case = _case(channel)
    expected = [
        like(EscalationRaised, kind="sla_warning", case_id=case.pk),
        like(EscalationRaised, kind="sla_breach", case_id=case.pk),
    ]
    with capture_events(EscalationRaised, expected=expected):
        assert sla_scan.scan(now=T0 + timedelta(minutes=7)).fired == 0
        with committing():
            assert sla_scan.scan(now=T0 + timedelta(minutes=8)).warnings == 1
        with committing():
            assert sla_scan.scan(now=T0 + timedelta(minutes=9)).fired == 0
        with committing():
            assert sla_scan.scan(now=T0 + timedelta(minutes=10)).breaches == 1
        assert sla_scan.scan(now=T0 + timedelta(hours=5)).fired == 0
    assert _kinds(case) == [("sla_warning", "first_response"), ("sla_breached", "first_response")]
    clock = Clock.objects.get(case=case)
    assert clock.status == Clock.Status.BREACHED
    case.refresh_from_db()
    assert case.sla_due_at == clock.due_at  # a breached target not yet met still ranks the case


def test_a_late_scan_fires_both_thresholds_once(channel, committing, feed):
    make_policy(first_response_minutes=10, resolution_minutes=0)
    case = _case(channel)
    with committing():
        result = sla_scan.scan(now=T0 + timedelta(hours=1))
    assert (result.warnings, result.breaches) == (1, 1)
    assert sla_scan.scan(now=T0 + timedelta(hours=2)).fired == 0
    assert len(_kinds(case)) == 2


def test_an_answer_whose_event_was_missed_is_not_breached(channel):
    make_policy(first_response_minutes=10, resolution_minutes=0)
    case = _case(channel, agent=factories.agent("ana", presence=None))
    Case.objects.filter(pk=case.pk).update(first_response_at=T0 + timedelta(minutes=3))  # no event
    assert sla_scan.scan(now=T0 + timedelta(minutes=30)).fired == 0
    clock = Clock.objects.get(case=case)
    assert clock.status == Clock.Status.MET
    assert clock.stopped_at == T0 + timedelta(minutes=3)


def test_a_case_waiting_on_the_customer_whose_event_was_missed_is_paused_not_breached(channel):
    make_policy(first_response_minutes=0, resolution_minutes=30)
    case = _case(channel, agent=factories.agent("bo", presence=None))
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.WAITING)  # no event
    assert sla_scan.scan(now=T0 + timedelta(hours=1)).fired == 0
    assert Clock.objects.get(case=case).status == Clock.Status.PAUSED


def test_a_scanner_that_dies_mid_way_leaves_everything_for_the_next(channel, committing, feed, monkeypatch):
    make_policy(first_response_minutes=10, resolution_minutes=20)
    cases = [_case(channel) for _ in range(5)]
    real_mark = sla_scan._mark

    def dying(*args, **kwargs):
        real_mark(*args, **kwargs)  # the firings are marked and on the timeline…
        raise RuntimeError("worker died")  # …and the worker dies before commit

    monkeypatch.setattr(sla_scan, "_mark", dying)
    with pytest.raises(RuntimeError), committing():
        sla_scan.scan(now=T0 + timedelta(hours=1))
    assert not CaseEvent.objects.filter(kind__in=["sla_warning", "sla_breached"]).exists()
    assert not Clock.objects.filter(warned_at__isnull=False).exists()
    assert feed == []
    monkeypatch.setattr(sla_scan, "_mark", real_mark)
    with committing():
        result = sla_scan.scan(now=T0 + timedelta(hours=1))
    assert (result.warnings, result.breaches) == (10, 10)
    assert sla_scan.scan(now=T0 + timedelta(hours=2)).fired == 0
    for case in cases:
        assert sorted(_kinds(case)) == sorted(
            [
                ("sla_breached", "first_response"),
                ("sla_breached", "resolution"),
                ("sla_warning", "first_response"),
                ("sla_warning", "resolution"),
            ]
        )
    assert len(feed) == 20


def test_escalation_actions_notify_raise_priority_and_move_to_the_escalation_queue(channel, committing, feed):
    escalations = factories.queue("Escalations")
    team = Team.objects.create(name="Tier 1")
    channel.default_queue.team = team
    channel.default_queue.save()
    boss = factories.user("boss", role=Role.SUPERVISOR)
    boss.email = "boss@example.com"
    boss.save()
    team.supervisors.add(boss)
    policy = make_policy(first_response_minutes=10, resolution_minutes=0)
    EscalationAction.objects.create(policy=policy, threshold="warning", kind="notify")
    EscalationAction.objects.create(policy=policy, threshold="warning", kind="raise_priority")
    EscalationAction.objects.create(policy=policy, threshold="breach", kind="move_to_queue", queue=escalations)
    case = _case(channel)
    with committing():
        sla_scan.scan(now=T0 + timedelta(minutes=8))
    case.refresh_from_db()
    assert case.priority == 2
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["boss@example.com"]
    assert "First response" in mail.outbox[0].subject
    with committing():
        sla_scan.scan(now=T0 + timedelta(minutes=10))
    case.refresh_from_db()
    assert case.queue == escalations
    assert case.status == CaseStatus.QUEUED
    actions = list(case.events.filter(kind=CaseEvent.Kind.ESCALATION_ACTION).values_list("data__action", flat=True))
    assert actions == ["notify", "raise_priority", "move_to_queue"]
    assert [e.kind for e in feed] == ["sla_warning", "sla_breach"]


def test_breach_reassigns_to_the_team_lead(channel, committing):
    team = Team.objects.create(name="Tier 2")
    channel.default_queue.team = team
    channel.default_queue.save()
    lead = factories.agent("lead", capacity={"api": 5})
    lead.user.groups.add(Group.objects.get_or_create(name=Role.SUPERVISOR)[0])
    team.supervisors.add(lead.user)
    policy = make_policy(first_response_minutes=10, resolution_minutes=0)
    EscalationAction.objects.create(policy=policy, threshold="breach", kind="reassign_to_lead")
    case = _case(channel, agent=factories.agent("slow", presence=None))
    with committing():
        sla_scan.scan(now=T0 + timedelta(minutes=11))
    case.refresh_from_db()
    assert case.assignee == lead
    event = case.events.get(kind=CaseEvent.Kind.ESCALATION_ACTION)
    assert event.data["result"] == f"reassigned to agent {lead.pk}"


def test_an_action_that_cannot_be_taken_is_recorded_and_the_breach_still_fires(channel, committing):
    policy = make_policy(first_response_minutes=10, resolution_minutes=0)
    EscalationAction.objects.create(policy=policy, threshold="breach", kind="reassign_to_lead")
    case = _case(channel)
    with committing():
        assert sla_scan.scan(now=T0 + timedelta(minutes=11)).breaches == 1
    assert case.events.get(kind=CaseEvent.Kind.ESCALATION_ACTION).data["result"] == "no team lead to reassign to"


def test_the_tick_runs_the_scan(channel):
    from config.tasks import tick

    make_policy(first_response_minutes=1, resolution_minutes=0)
    case = _case(channel, at=datetime.now(UTC) - timedelta(minutes=5))
    tick.run()
    assert Clock.objects.get(case=case).status == Clock.Status.BREACHED


def test_an_action_that_fails_unexpectedly_is_recorded_and_the_firing_stands(channel, committing, monkeypatch):
    from sla import escalation

    policy = make_policy(first_response_minutes=10, resolution_minutes=0)
    EscalationAction.objects.create(policy=policy, threshold="breach", kind="raise_priority")

    def broken(case, now):
        Case.objects.filter(pk=case.pk).update(priority=1)  # half-done, then it fails
        raise ValueError("boom")

    monkeypatch.setattr(escalation, "_raise_priority", broken)
    case = _case(channel)
    with committing():
        assert sla_scan.scan(now=T0 + timedelta(minutes=11)).breaches == 1
    case.refresh_from_db()
    assert case.priority == 3  # the savepoint undid the half-done action
    assert case.events.get(kind=CaseEvent.Kind.ESCALATION_ACTION).data["result"] == "failed: ValueError"
    assert Clock.objects.get(case=case).status == Clock.Status.BREACHED


def test_a_failing_sla_scan_never_stops_the_rest_of_the_tick(channel, monkeypatch):
    from config.tasks import tick
    from routing import batch

    def broken(**kwargs):
        raise RuntimeError("database hiccup")

    ran = []
    monkeypatch.setattr(sla_scan, "scan", broken)
    monkeypatch.setattr(batch, "route_waiting", lambda **kwargs: ran.append(1))
    tick.run()
    assert ran == [1]
