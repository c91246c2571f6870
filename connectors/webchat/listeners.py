"""Case changes → the customer's widget (queued, an agent joined, ended);
surveys → the widget's survey card (shown when sent, closed when answered)."""

from __future__ import annotations

from cases.events import CaseStatusChanged
from config import events
from connectors.webchat import services, surveys
from routing.events import CaseAssigned
from surveys.events import SurveyAnswered, SurveySent
from surveys.models import Survey


def on_cases_changed(batch: list[CaseStatusChanged] | list[CaseAssigned]) -> None:
    """A router batch publishes one event per case: one query finds the few
    that are live web chats, and only those cost a push."""
    from cases.models import Case

    ids = list(dict.fromkeys(event.case_id for event in batch))
    chats = (
        Case.objects.filter(pk__in=ids, channel__provider="webchat")
        .exclude(channel_kind="email")
        .values_list("pk", flat=True)
    )
    for case_id in chats:
        services.push_status(case_id=case_id)


def on_survey_sent(event: SurveySent) -> None:
    """A survey to answer in the widget: the conversation's widgets show it."""
    if event.via != "widget":
        return
    survey = Survey.objects.select_related("case").filter(pk=event.survey_id).first()
    if survey is not None:
        surveys.push_survey(survey)


def on_survey_answered(event: SurveyAnswered) -> None:
    surveys.push_answered(survey_id=event.survey_id)


def connect() -> None:
    events.subscribe_batch(CaseStatusChanged, on_cases_changed)
    events.subscribe_batch(CaseAssigned, on_cases_changed)
    events.subscribe(SurveySent, on_survey_sent)
    events.subscribe(SurveyAnswered, on_survey_answered)
