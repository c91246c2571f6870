"""A survey whose resolution event was lost (the process died between the
commit and the event) is sent by the periodic reconcile, exactly once;
what the event path would not send, the reconcile does not send either.
A queue's ``surveys_enabled`` switch holds on both paths."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseStatus, Message
from cases.services import resolve_case
from config.tasks import tick
from surveys import reconcile, services
from surveys.models import Survey
from tests import factories

pytestmark = pytest.mark.django_db


def _held(kind: str = "api", *, queue=None, **case_fields):
    agent = factories.agent(capacity={kind: 2})
    channel = factories.channel(kind=kind, default_queue=queue or factories.queue())
    case = factories.held_case(channel, agent)
    if case_fields:
        Case.objects.filter(pk=case.pk).update(**case_fields)
        case.refresh_from_db()
    return case


def _resolved_event_lost(case, *, ago=timedelta(minutes=5)):
    """Resolve the case; the work scheduled at commit never runs (a
    non-transactional test never runs on-commit callbacks): its event is lost."""
    resolve_case(case_id=case.pk, agent=case.assignee, now=timezone.now() - ago)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and not Survey.objects.filter(case=case).exists()
    return case


def test_a_resolution_whose_event_was_lost_gets_its_survey_from_the_reconcile_once():
    case = _resolved_event_lost(_held())

    assert reconcile.send_missing_surveys(now=timezone.now()) == 1
    assert reconcile.send_missing_surveys(now=timezone.now()) == 0

    survey = Survey.objects.get()
    assert (survey.case, survey.resolved_at, survey.agent, survey.queue) == (
        case,
        case.resolved_at,
        case.assignee,
        case.queue,
    )
    assert Message.objects.filter(case=case, direction="out").get() == survey.message
    assert case.events.filter(kind=CaseEvent.Kind.SURVEY_SENT).count() == 1
    # The event arriving late after all sends nothing more.
    assert services.send_survey(case_id=case.pk, now=timezone.now()) is None
    assert Survey.objects.count() == 1


def test_a_survey_sent_by_its_event_is_not_sent_again_by_the_reconcile(django_capture_on_commit_callbacks):
    case = _held()
    with django_capture_on_commit_callbacks(execute=True):
        resolve_case(case_id=case.pk, agent=case.assignee, now=timezone.now() - timedelta(minutes=5))
    assert Survey.objects.count() == 1

    assert reconcile.cases_missing_a_survey(timezone.now()) == []
    assert reconcile.send_missing_surveys(now=timezone.now()) == 0
    assert Survey.objects.count() == 1


def test_the_reconcile_leaves_the_last_minute_to_the_event_and_older_than_a_day_alone():
    recent = _resolved_event_lost(_held(), ago=timedelta(seconds=20))
    old = _resolved_event_lost(_held(), ago=timedelta(hours=25))
    due = _resolved_event_lost(_held(), ago=timedelta(hours=23))

    assert reconcile.cases_missing_a_survey(timezone.now()) == [due.pk]
    reconcile.send_missing_surveys(now=timezone.now())

    assert list(Survey.objects.values_list("case_id", flat=True)) == [due.pk]
    assert not Survey.objects.filter(case__in=[recent, old]).exists()


def test_the_reconcile_sends_what_the_event_would_and_skips_what_it_would_not():
    calls = _resolved_event_lost(_held("voice"))
    closed_window = _resolved_event_lost(
        _held("whatsapp", last_customer_message_at=timezone.now() - timedelta(hours=30))
    )
    open_window = _resolved_event_lost(_held("whatsapp", last_customer_message_at=timezone.now() - timedelta(hours=1)))
    quiet = _resolved_event_lost(_held(queue=factories.queue(surveys_enabled=False)))
    reopened = _resolved_event_lost(_held())
    Case.objects.filter(pk=reopened.pk).update(status=CaseStatus.ASSIGNED)

    assert reconcile.cases_missing_a_survey(timezone.now()) == [open_window.pk]
    assert reconcile.send_missing_surveys(now=timezone.now()) == 1

    assert list(Survey.objects.values_list("case_id", flat=True)) == [open_window.pk]
    assert {calls.pk, closed_window.pk, quiet.pk}.isdisjoint(Survey.objects.values_list("case_id", flat=True))


def test_a_new_resolution_of_a_surveyed_case_is_missing_its_own_survey(django_capture_on_commit_callbacks):
    case = _held()
    with django_capture_on_commit_callbacks(execute=True):
        resolve_case(case_id=case.pk, agent=case.assignee, now=timezone.now() - timedelta(hours=2))
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.ASSIGNED, resolved_at=None)
    resolve_case(case_id=case.pk, agent=case.assignee, now=timezone.now() - timedelta(minutes=5))

    assert reconcile.send_missing_surveys(now=timezone.now()) == 1

    case.refresh_from_db()
    assert sorted(Survey.objects.values_list("resolved_at", flat=True))[-1] == case.resolved_at
    assert Survey.objects.filter(case=case).count() == 2


def test_no_reconcile_when_surveys_are_off(settings):
    _resolved_event_lost(_held())
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"SURVEYS_ENABLED": False}

    assert reconcile.send_missing_surveys(now=timezone.now()) == 0
    assert not Survey.objects.exists()


def test_the_periodic_tick_sends_the_missing_survey_once_a_minute(monkeypatch):
    monkeypatch.setattr(reconcile, "_last_run", [])
    case = _resolved_event_lost(_held())

    tick.run()

    assert Survey.objects.get().case == case
    second = _resolved_event_lost(_held())
    tick.run()  # within the minute: not again yet
    assert not Survey.objects.filter(case=second).exists()
    assert reconcile.send_missing_now_and_then(timezone.now() + timedelta(minutes=2)) == 1
    assert Survey.objects.filter(case=second).count() == 1


# --- The per-queue switch -------------------------------------------------------


def test_a_case_in_a_queue_with_surveys_off_gets_none(resolve):
    case = _held(queue=factories.queue(surveys_enabled=False))

    resolve(case)

    assert not Survey.objects.exists()
    assert not case.messages.filter(direction="out").exists()
    assert services.send_survey(case_id=case.pk, now=timezone.now()) is None


def test_a_case_without_a_queue_gets_its_survey(resolve):
    case = _held(queue=None)
    Case.objects.filter(pk=case.pk).update(queue=None)
    case.refresh_from_db()

    resolve(case)

    assert Survey.objects.get().case == case


def test_queues_take_surveys_by_default_and_the_admin_shows_the_switch(admin_client):
    queue = factories.queue("Billing")
    assert queue.surveys_enabled is True

    page = admin_client.get("/admin/routing/queue/").content.decode()
    assert "Surveys enabled" in page
    form = admin_client.get(f"/admin/routing/queue/{queue.pk}/change/").content.decode()
    assert 'name="surveys_enabled"' in form
