"""Connectors' reactions to the layers below: send what an app queued for
the customer, and show or close a web chat's survey card.

- ``OutboundQueued`` (an agent's reply, a survey sent as a message): the
  delivery task, handed to ``config.background`` at once, as the services'
  own on-commit call did before: the same Celery task on the ``outbound``
  queue, claimed there so a message is sent once.
- ``SurveySent`` via the widget: the survey's form in the conversation.
- ``SurveyAnswered``: every widget of a live chat's conversation closes the
  card, whichever path answered (the widget, a typed "5", the link).
"""

from __future__ import annotations

from cases.events import OutboundQueued
from config import background, events
from surveys.events import SurveyAnswered, SurveySent


def on_outbound_queued(event: OutboundQueued) -> None:
    from connectors.tasks import deliver_message

    background.run_now(deliver_message, message_id=event.message_id)


def on_survey_sent(event: SurveySent) -> None:
    from connectors.webchat.services import push_to_conversation
    from surveys.models import Survey
    from surveys.webchat import survey_frame

    if event.via != "widget":
        return
    survey = Survey.objects.select_related("case").filter(pk=event.survey_id).first()
    if survey is None:
        return
    push_to_conversation(
        channel_id=survey.case.channel_id,
        thread_key=survey.case.thread_key,
        payload={"type": "chat.survey", "survey": survey_frame(survey)},
    )


def on_survey_answered(event: SurveyAnswered) -> None:
    from connectors.webchat.services import push_to_conversation
    from surveys.models import Survey
    from surveys.services import is_live_chat

    survey = Survey.objects.select_related("case__channel").filter(pk=event.survey_id).first()
    if survey is None or survey.answered_at is None or not is_live_chat(survey.case):
        return
    push_to_conversation(
        channel_id=survey.case.channel_id,
        thread_key=survey.case.thread_key,
        payload={"type": "survey.answered", "token": survey.token, "score": survey.score},
    )


def connect() -> None:
    events.subscribe(OutboundQueued, on_outbound_queued)
    events.subscribe(SurveySent, on_survey_sent)
    events.subscribe(SurveyAnswered, on_survey_answered)
