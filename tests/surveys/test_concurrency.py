"""Several workers at once on PostgreSQL: a resolution's survey is sent once
(a redelivered event, a retried task, reconciles in several processes), and a survey takes one answer even
when the link, the widget and a reply arrive together."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from cases.models import CaseEvent, Message
from surveys import reconcile, services
from surveys.models import Survey
from tests import factories

pytestmark = [pytest.mark.postgres, pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

WORKERS = 4


def _together(work) -> list:
    """Run ``work(i)`` in WORKERS threads released at once; their results."""
    barrier = threading.Barrier(WORKERS)
    results: list = [None] * WORKERS

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # returned, checked by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _resolved_case():
    agent = factories.agent("ana")
    channel = factories.channel(kind="api", default_queue=factories.queue())
    return factories.held_case(channel, agent, status="resolved", resolved_at=timezone.now())


def test_a_resolution_gets_one_survey_from_concurrent_senders():
    assert connection.vendor == "postgresql"
    case = _resolved_case()

    results = _together(lambda i: services.send_survey(case_id=case.pk, now=timezone.now()))

    assert [r for r in results if isinstance(r, Exception)] == []
    assert len([r for r in results if isinstance(r, Survey)]) == 1
    assert Survey.objects.filter(case=case).count() == 1
    assert Message.objects.filter(case=case, direction="out").count() == 1
    assert CaseEvent.objects.filter(case=case, kind=CaseEvent.Kind.SURVEY_SENT).count() == 1


def test_a_survey_takes_one_answer_from_concurrent_answers():
    assert connection.vendor == "postgresql"
    survey = services.send_survey(case_id=_resolved_case().pk, now=timezone.now())
    vias = ["link", "widget", "reply", "link"]

    results = _together(
        lambda i: services.answer_survey(token=survey.token, score=i + 1, via=vias[i], now=timezone.now())
    )

    answered = [r for r in results if isinstance(r, Survey)]
    refused = [r for r in results if isinstance(r, services.AlreadyAnswered)]
    assert (len(answered), len(refused)) == (1, WORKERS - 1), results
    survey.refresh_from_db()
    assert survey.score == answered[0].score and survey.answered_via == answered[0].answered_via
    assert CaseEvent.objects.filter(case=survey.case, kind=CaseEvent.Kind.SURVEY_ANSWERED).count() == 1


def test_concurrent_reconciles_send_one_survey_per_lost_resolution():
    assert connection.vendor == "postgresql"
    agent = factories.agent("ana", capacity={"api": 20})
    channel = factories.channel(kind="api", default_queue=factories.queue())
    resolved_at = timezone.now() - timedelta(minutes=5)
    cases = [
        factories.held_case(channel, agent, status="resolved", resolved_at=resolved_at - timedelta(seconds=i))
        for i in range(12)
    ]  # resolved with no event at all: every survey is missing

    results = _together(lambda i: reconcile.send_missing_surveys(now=timezone.now()))

    assert [r for r in results if isinstance(r, Exception)] == []
    assert sum(results) == len(cases)
    assert sorted(Survey.objects.values_list("case_id", flat=True)) == sorted(c.pk for c in cases)
    assert Message.objects.filter(case__in=cases, direction="out").count() == len(cases)
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.SURVEY_SENT).count() == len(cases)
    assert reconcile.send_missing_surveys(now=timezone.now()) == 0
