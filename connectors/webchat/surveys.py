"""The survey inside the web chat widget: pushed to the conversation when the
case is resolved, shown again on reconnect while unanswered, answered with a
``survey`` frame::

    {"type": "survey", "token": "<the survey's token>", "score": 1..5, "comment": "…"}

The server answers ``survey.answered`` (or an ``error`` frame saying why),
and pushes the same frame to every widget of the conversation once the survey
is answered by any path, so a card still shown closes. The surveys app
decides when a survey is sent and records answers; this module is the
widget's side of it (``connectors/webchat/listeners.py`` follows
``SurveySent`` and ``SurveyAnswered``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from config.api import DomainError, NotFound
from connectors.webchat.services import push_to_conversation
from surveys.models import Survey
from surveys.services import answer_survey, is_live_chat, looks_like_token

QUESTION = "How did we do? Rate this chat from 1 (poor) to 5 (excellent)."


def survey_frame(survey: Survey) -> dict:
    return {"token": survey.token, "case_id": survey.case_id, "question": QUESTION}


def push_survey(survey: Survey) -> None:
    case = survey.case
    push_to_conversation(
        channel_id=case.channel_id,
        thread_key=case.thread_key,
        payload={"type": "chat.survey", "survey": survey_frame(survey)},
    )


def push_answered(*, survey_id: int) -> None:
    """Tell the conversation's widgets a survey was answered, by whichever
    path (the widget, a typed "5", the link), so its card closes."""
    survey = Survey.objects.select_related("case__channel").filter(pk=survey_id).first()
    if survey is None or survey.answered_at is None or not is_live_chat(survey.case):
        return
    push_to_conversation(
        channel_id=survey.case.channel_id,
        thread_key=survey.case.thread_key,
        payload={"type": "survey.answered", "token": survey.token, "score": survey.score},
    )


def pending_survey(case, now: datetime) -> dict | None:
    """The unanswered survey of the conversation's latest resolution, for a
    reconnecting widget (not once the customer wrote again, nor after the
    answer window)."""
    if case is None or case.resolved_at is None:
        return None
    since = now - timedelta(days=settings.SWITCHBOARD["SURVEY_REPLY_DAYS"])
    survey = Survey.objects.filter(
        case=case, resolved_at=case.resolved_at, answered_at__isnull=True, resolved_at__gte=since
    ).first()
    return survey_frame(survey) if survey is not None else None


def answer_frame(*, channel, visitor, frame: dict, now: datetime) -> dict:
    """A widget's answer: only for a survey of this visitor's conversation."""
    token = frame.get("token")
    if not looks_like_token(token):
        raise NotFound("no such survey")
    ours = Survey.objects.filter(token=token, case__channel=channel, case__thread_key=visitor.thread_key).exists()
    if not ours:
        raise NotFound("no such survey")
    survey = answer_survey(
        token=token, score=frame.get("score"), comment=frame.get("comment"), via=Survey.Via.WIDGET, now=now
    )
    return {"type": "survey.answered", "token": token, "score": survey.score}


def answer_or_error(*, channel, visitor, frame: dict, now: datetime) -> dict:
    try:
        return answer_frame(channel=channel, visitor=visitor, frame=frame, now=now)
    except DomainError as exc:
        return {"type": "error", "id": None, "detail": exc.message, "survey": True}
