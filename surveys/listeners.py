"""A resolved case gets its survey: the surveys app follows the cases app's
status events (after commit) and sends in the background. An answered
survey of a live web chat closes the widget's card."""

from __future__ import annotations

from cases.events import CaseStatusChanged
from cases.models import CaseStatus
from config import background, events
from surveys.events import SurveyAnswered


def on_status_changes(batch: list[CaseStatusChanged]) -> None:
    from surveys.tasks import send_survey

    for case_id in dict.fromkeys(e.case_id for e in batch if e.status == CaseStatus.RESOLVED):
        background.enqueue(send_survey, case_id=case_id)


def on_survey_answered(event: SurveyAnswered) -> None:
    from surveys.webchat import push_answered

    push_answered(survey_id=event.survey_id)


def connect() -> None:
    events.subscribe_batch(CaseStatusChanged, on_status_changes)
    events.subscribe(SurveyAnswered, on_survey_answered)
