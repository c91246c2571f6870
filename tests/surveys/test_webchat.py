"""On a live web chat the survey is shown in the widget: pushed when the
case is resolved, shown again on reconnect until answered, answered once
with a ``survey`` frame (only for the visitor's own conversation)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cases.models import Case, CaseEvent
from cases.services import resolve_case
from routing.models import Offer
from routing.offers import accept_offer
from surveys.models import Survey
from tests import factories
from tests.connectors.test_webchat import connect, db, hello, receive, send, widget

pytestmark = pytest.mark.django_db(transaction=True)


async def _chat_resolved():
    await db(widget)()
    agent = await db(factories.agent)("ana")
    ws = await connect()
    welcome = await hello(ws)
    assert welcome["survey"] is None
    await send(ws, {"type": "details", "name": "María"})
    welcome = await receive(ws, "welcome")
    await send(ws, {"type": "message", "id": "c-1", "text": "Where is my order?"})
    await receive(ws, "ack")

    def accept_and_resolve():
        case = Case.objects.get()
        offer = Offer.objects.get(case=case, status="pending")
        accept_offer(offer_id=offer.pk, agent=agent, now=timezone.now())
        resolve_case(case_id=case.pk, agent=agent, now=timezone.now())
        return case

    case = await db(accept_and_resolve)()
    return ws, welcome["token"], case


async def test_the_widget_gets_the_survey_and_answers_it_once():
    ws, token, case = await _chat_resolved()

    pushed = await receive(ws, "chat.survey")
    survey = await db(Survey.objects.get)()
    assert pushed["survey"]["token"] == survey.token and pushed["survey"]["case_id"] == case.pk
    assert survey.message_id is None  # shown in the widget, not sent as a message
    assert await db(lambda: case.messages.filter(direction="out").count())() == 0

    await send(ws, {"type": "survey", "token": survey.token, "score": 6})
    error = await receive(ws, "error")
    assert error["detail"] == "the score is a whole number from 1 to 5"
    await send(ws, {"type": "survey", "token": "someone-elses", "score": 5})
    assert (await receive(ws, "error"))["detail"] == "no such survey"
    assert (await db(Survey.objects.get)()).answered_at is None

    await send(ws, {"type": "survey", "token": survey.token, "score": 5, "comment": "Lovely"})
    answered = await receive(ws, "survey.answered")
    assert answered["score"] == 5
    await send(ws, {"type": "survey", "token": survey.token, "score": 1})
    assert (await receive(ws, "error"))["detail"] == "this survey was answered already: thank you"

    survey = await db(Survey.objects.get)()
    assert (survey.score, survey.comment, survey.answered_via) == (5, "Lovely", "widget")
    kinds = await db(lambda: list(case.events.values_list("kind", flat=True)))()
    assert kinds.count(CaseEvent.Kind.SURVEY_SENT) == 1 and kinds.count(CaseEvent.Kind.SURVEY_ANSWERED) == 1
    await ws.disconnect()


async def test_a_reconnecting_widget_shows_the_unanswered_survey_until_answered():
    ws, token, _ = await _chat_resolved()
    await receive(ws, "chat.survey")
    await ws.disconnect()

    ws = await connect()
    welcome = await hello(ws, token=token)
    survey = await db(Survey.objects.get)()
    assert welcome["survey"]["token"] == survey.token
    await send(ws, {"type": "survey", "token": survey.token, "score": 3})
    await receive(ws, "survey.answered")
    await ws.disconnect()

    ws = await connect()
    assert (await hello(ws, token=token))["survey"] is None
    await ws.disconnect()


async def test_another_visitor_cannot_answer_with_a_known_token():
    ws, _, _ = await _chat_resolved()
    await receive(ws, "chat.survey")
    survey = await db(Survey.objects.get)()

    other = await connect()
    await hello(other)
    await send(other, {"type": "survey", "token": survey.token, "score": 1})

    assert (await receive(other, "error"))["detail"] == "no such survey"
    assert (await db(Survey.objects.get)()).answered_at is None
    await other.disconnect()
    await ws.disconnect()


async def test_an_answer_by_a_typed_number_is_pushed_to_every_tab_of_the_conversation():
    ws, token, case = await _chat_resolved()
    await receive(ws, "chat.survey")
    tab = await connect()
    assert (await hello(tab, token=token))["survey"] is not None

    await send(ws, {"type": "message", "id": "c-2", "text": "4 - quick"})

    pushed = [await receive(socket, "survey.answered") for socket in (ws, tab)]
    survey = await db(Survey.objects.get)()
    assert [(p["token"], p["score"]) for p in pushed] == [(survey.token, 4)] * 2
    assert (survey.score, survey.comment, survey.answered_via) == (4, "quick", "reply")
    assert (await db(Case.objects.get)()).status == "resolved"
    await tab.disconnect()
    await ws.disconnect()
