"""The public survey page: no login, a CSRF-protected form, answered once;
a bad score is a 400 that changes nothing; an unknown token is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from cases.models import CaseEvent
from surveys.models import Survey
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(db):
    agent = factories.agent("ana")
    case = factories.held_case(factories.channel(kind="sms"), agent, status="resolved", resolved_at=timezone.now())
    return Survey.objects.create(
        case=case,
        customer=case.customer,
        agent=agent,
        queue=case.queue,
        channel_kind="sms",
        token="tok-" + "a" * 32,
        resolved_at=case.resolved_at,
        sent_at=timezone.now(),
    )


def _url(survey) -> str:
    return f"/survey/{survey.token}/"


def test_the_page_shows_the_form_without_login(client, survey):
    response = client.get(_url(survey))

    assert response.status_code == 200
    html = response.content.decode()
    assert "How did we do?" in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert html.count('type="radio" name="score"') == 5


def test_an_answer_is_taken_once(client, survey):
    response = client.post(_url(survey), {"score": "4", "comment": "  Quick and kind  "})

    assert response.status_code == 200
    assert "We received your rating of 4 out of 5." in response.content.decode()
    survey.refresh_from_db()
    assert (survey.score, survey.comment, survey.answered_via) == (4, "Quick and kind", "link")
    assert survey.answered_at is not None
    event = CaseEvent.objects.get(case=survey.case, kind=CaseEvent.Kind.SURVEY_ANSWERED)
    assert event.data == {"survey_id": survey.pk, "score": 4, "via": "link"}

    second = client.post(_url(survey), {"score": "1", "comment": "changed my mind"})

    assert second.status_code == 409
    assert "Already answered" in second.content.decode()
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Quick and kind")
    assert CaseEvent.objects.filter(kind=CaseEvent.Kind.SURVEY_ANSWERED).count() == 1
    page = client.get(_url(survey))
    assert page.status_code == 200 and "Already answered" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"score": "6"}, "the score is a whole number from 1 to 5"),
        ({"score": "0"}, "the score is a whole number from 1 to 5"),
        ({"score": "3.5"}, "the score is a whole number from 1 to 5"),
        ({"score": "٣"}, "the score is a whole number from 1 to 5"),
        ({}, "the score is a whole number from 1 to 5"),
        ({"score": "3", "comment": "x" * 2001}, "the comment is limited to 2,000 characters"),
    ],
)
def test_a_bad_answer_is_a_400_with_the_reason_and_changes_nothing(client, survey, data, message):
    response = client.post(_url(survey), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None and survey.score is None and survey.answered_via == ""
    assert not CaseEvent.objects.filter(kind=CaseEvent.Kind.SURVEY_ANSWERED).exists()


@pytest.mark.parametrize("token", ["not-a-token", "tok-%00", "t%C3%B6k", "x" * 65])
def test_an_unknown_or_malformed_token_is_a_404(client, survey, token):
    assert client.get(f"/survey/{token}/").status_code == 404
    assert client.post(f"/survey/{token}/", {"score": "5"}).status_code == 404


def test_the_form_is_csrf_protected(survey):
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post(_url(survey), {"score": "5"})
    assert refused.status_code == 403
    survey.refresh_from_db()
    assert survey.answered_at is None

    page = browser.get(_url(survey))
    token = page.context["csrf_token"]
    accepted = browser.post(_url(survey), {"score": "5", "csrfmiddlewaretoken": str(token)})
    assert accepted.status_code == 200
    survey.refresh_from_db()
    assert survey.score == 5
