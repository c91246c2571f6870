"""A reply that is just a number 1–5 (perhaps with a comment) within seven
days of the resolution answers the survey and does not re-open the case;
any other reply re-opens it as before."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cases.models import Case, CaseEvent, CaseStatus, Message
from surveys.models import Survey
from surveys.replies import parse_score_reply
from tests import factories
from tests.connectors.twilio.conftest import inbound_sms

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("5", (5, "")),
        (" 4 ", (4, "")),
        ("5!", (5, "")),
        ("4 quick and kind", (4, "quick and kind")),
        ("3 - slow, but solved", (3, "slow, but solved")),
        ("2: the wait was long\nsecond line", (2, "the wait was long\nsecond line")),
        ("1.", (1, "")),
    ],
)
def test_a_score_reply_is_read(text, parsed):
    assert parse_score_reply(text) == parsed


@pytest.mark.parametrize("text", ["", "6", "0", "10", "1.5", "2,5", "3pm", "order 5", "five", "٣", "4/5"])
def test_other_text_is_not_a_score(text):
    assert parse_score_reply(text) is None


@pytest.fixture
def resolved_sms_case(send, sms_channel, twilio_api, resolve):
    factories.agent("ana", capacity={"sms": 3})
    sms_channel.config = sms_channel.config | {"api_base": twilio_api.base}
    sms_channel.save()
    send(sms_channel, inbound_sms(Body="Where is my parcel?"))
    case = Case.objects.get()
    resolve(case)
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED and Survey.objects.filter(case=case).exists()
    return case


def test_a_digit_reply_answers_the_survey_and_does_not_reopen(send, sms_channel, resolved_sms_case):
    send(sms_channel, inbound_sms(Body="4 quick and kind"))

    case = Case.objects.get()
    assert case == resolved_sms_case
    assert case.status == CaseStatus.RESOLVED and case.resolved_at == resolved_sms_case.resolved_at
    survey = Survey.objects.get()
    assert (survey.score, survey.comment, survey.answered_via) == (4, "quick and kind", "reply")
    reply = case.messages.get(direction=Message.Direction.INBOUND, text="4 quick and kind")
    assert reply.case == case
    assert not case.events.filter(kind=CaseEvent.Kind.REOPENED).exists()
    assert case.events.filter(kind=CaseEvent.Kind.SURVEY_ANSWERED).count() == 1


def test_a_non_digit_reply_reopens_as_before(send, sms_channel, resolved_sms_case):
    send(sms_channel, inbound_sms(Body="It still has not arrived"))

    case = Case.objects.get()
    assert case.status != CaseStatus.RESOLVED
    assert case.events.filter(kind=CaseEvent.Kind.REOPENED).count() == 1
    assert Survey.objects.get().answered_at is None


def test_a_second_digit_reply_is_an_ordinary_message_that_reopens(send, sms_channel, resolved_sms_case):
    send(sms_channel, inbound_sms(Body="5"))
    send(sms_channel, inbound_sms(Body="1"))

    survey = Survey.objects.get()
    assert survey.score == 5
    case = Case.objects.get()
    assert case.events.filter(kind=CaseEvent.Kind.REOPENED).count() == 1


def test_a_digit_reply_after_seven_days_is_not_an_answer(send, sms_channel, resolved_sms_case, settings):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"REOPEN_WINDOW_SECONDS": 30 * 24 * 3600}
    eight_days_ago = resolved_sms_case.resolved_at - timedelta(days=8)
    Case.objects.filter(pk=resolved_sms_case.pk).update(resolved_at=eight_days_ago)
    Survey.objects.update(resolved_at=eight_days_ago)

    send(sms_channel, inbound_sms(Body="5"))

    assert Survey.objects.get().answered_at is None
    assert Case.objects.get().events.filter(kind=CaseEvent.Kind.REOPENED).count() == 1


def test_a_digit_in_an_open_conversation_is_part_of_it(send, sms_channel, resolved_sms_case):
    send(sms_channel, inbound_sms(Body="It still has not arrived"))  # re-opens
    send(sms_channel, inbound_sms(Body="2"))  # e.g. "which of the two parcels?"

    assert Survey.objects.get().answered_at is None
    assert Case.objects.get().messages.filter(direction="in").count() == 3


def test_an_email_reply_with_a_score_above_the_quoted_survey_answers_it(mailbox, post_mail, smtp_server, resolve):
    from email import message_from_bytes

    from tests.connectors.email.conftest import mail

    factories.agent("ana")
    post_mail(mailbox, mail(subject="Order 77", message_id="<c1@example.cz>"))
    case = Case.objects.get()
    resolve(case)
    (envelope,) = smtp_server.envelopes
    survey_id = message_from_bytes(envelope.original_content)["Message-ID"].strip()

    post_mail(
        mailbox,
        mail(
            subject="Re: Order 77",
            message_id="<c2@example.cz>",
            text="4 - fast, thank you\n\nOn Tue, 24 Nov 2026 at 10:00, Acme Support wrote:\n> How did we do?\n",
            headers={"In-Reply-To": survey_id, "References": f"<c1@example.cz> {survey_id}"},
        ),
    )

    survey = Survey.objects.get()
    assert (survey.score, survey.comment, survey.answered_via) == (4, "fast, thank you", "reply")
    assert Case.objects.get().status == CaseStatus.RESOLVED
