"""A resolved case gets one satisfaction survey on its own channel: SMS
through Twilio's API, email by SMTP, a link plus "reply with a number";
none on calls or public social posts, none when surveys are off or the
WhatsApp window is closed; one per resolution (a re-opened and re-resolved
case gets a new one)."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes

import pytest
from django.utils import timezone

from cases.models import Case, CaseEvent, CaseStatus, Message
from routing.timers import end_wrap_up
from surveys import services
from surveys.models import Survey
from tests import factories
from tests.connectors.email.conftest import mail
from tests.connectors.twilio.conftest import inbound_sms
from tests.surveys.conftest import SITE

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_case(send, sms_channel, twilio_api):
    factories.agent("ana", capacity={"sms": 3})
    sms_channel.config = sms_channel.config | {"api_base": twilio_api.base}
    sms_channel.save()
    send(sms_channel, inbound_sms(Body="Where is my parcel?"))
    case = Case.objects.get()
    assert case.status == CaseStatus.ASSIGNED
    return case


def test_resolved_sms_case_gets_the_survey_by_sms_with_link_and_reply_hint(sms_case, twilio_api, resolve):
    resolve(sms_case)

    survey = Survey.objects.get()
    assert (survey.case, survey.customer, survey.agent, survey.queue) == (
        sms_case,
        sms_case.customer,
        sms_case.assignee,
        sms_case.queue,
    )
    assert survey.channel_kind == "sms" and survey.answered_at is None and survey.score is None
    assert len(survey.token) >= 32
    [request] = twilio_api.requests
    assert request["form"]["To"] == "+14155550100"
    text = request["form"]["Body"]
    assert f"{SITE}/survey/{survey.token}/" in text
    assert "reply with a number from 1 to 5" in text
    message = survey.message
    assert message.direction == Message.Direction.OUTBOUND and message.text == text
    assert message.delivery_status == Message.Delivery.SENT
    event = CaseEvent.objects.get(case=sms_case, kind=CaseEvent.Kind.SURVEY_SENT)
    assert event.data == {"survey_id": survey.pk, "via": "message"}


def test_resolved_email_case_gets_the_survey_by_smtp_in_its_thread(mailbox, post_mail, smtp_server, resolve):
    factories.agent("ana")
    post_mail(mailbox, mail(subject="Order 77", message_id="<c1@example.cz>"))
    case = Case.objects.get()

    resolve(case)

    survey = Survey.objects.get()
    assert survey.message.delivery_status == Message.Delivery.SENT, survey.message.delivery_error
    (envelope,) = smtp_server.envelopes
    assert envelope.rcpt_tos == ["jiri@example.cz"]
    sent = message_from_bytes(envelope.original_content)
    assert sent["In-Reply-To"].strip() == "<c1@example.cz>"
    body = sent.get_payload(decode=True).decode(sent.get_content_charset())
    assert f"{SITE}/survey/{survey.token}/" in body


def _held(kind: str, **case_fields):
    agent = factories.agent(capacity={kind: 2})
    channel = factories.channel(kind=kind, default_queue=factories.queue())
    case = factories.held_case(channel, agent)
    if case_fields:
        Case.objects.filter(pk=case.pk).update(**case_fields)
        case.refresh_from_db()
    return case


@pytest.mark.parametrize("kind", ["voice", "social"])
def test_calls_and_public_social_posts_get_no_survey(resolve, kind):
    case = _held(kind)

    resolve(case)

    assert not Survey.objects.exists()
    assert not case.messages.exists()


def test_no_survey_when_surveys_are_off(resolve, settings):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"SURVEYS_ENABLED": False}
    case = _held("api")

    resolve(case)

    assert not Survey.objects.exists()


def test_no_survey_when_the_whatsapp_window_is_closed(resolve):
    case = _held("whatsapp", last_customer_message_at=timezone.now() - timedelta(hours=30))

    resolve(case)

    assert not Survey.objects.exists()
    assert not case.messages.exists()


def test_a_case_in_wrap_up_gets_its_survey_when_the_wrap_up_ends(resolve, django_capture_on_commit_callbacks):
    case = _held("api")
    case.queue.wrap_up_seconds = 60
    case.queue.save()

    resolve(case)
    assert Case.objects.get(pk=case.pk).status == CaseStatus.WRAP_UP
    assert not Survey.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        end_wrap_up(case_id=case.pk, agent=case.assignee, now=timezone.now())

    assert Survey.objects.get().case == case


def test_one_survey_per_resolution(resolve):
    case = _held("api")
    resolve(case)
    case.refresh_from_db()

    assert services.send_survey(case_id=case.pk, now=timezone.now()) is None  # a second event changes nothing
    assert Survey.objects.count() == 1

    # Re-opened and resolved again: that resolution gets its own survey.
    Case.objects.filter(pk=case.pk).update(status=CaseStatus.ASSIGNED, resolved_at=None)
    resolve(case, now=timezone.now() + timedelta(hours=1))

    assert Survey.objects.filter(case=case).count() == 2
    assert case.events.filter(kind=CaseEvent.Kind.SURVEY_SENT).count() == 2


def test_an_open_case_gets_no_survey():
    case = _held("api")

    assert services.send_survey(case_id=case.pk, now=timezone.now()) is None
    assert not Survey.objects.exists()


def test_resolved_telegram_case_gets_the_survey_by_send_message_and_a_reply_answers_it(
    tg_channel, tg_post, telegram_api, resolve
):
    from tests.connectors.telegram.conftest import BOT_TOKEN
    from tests.connectors.telegram.test_telegram import message, update

    factories.agent("ana", capacity={"telegram": 2})
    tg_post(tg_channel, update(1, message=message()))
    case = Case.objects.get()

    resolve(case)

    survey = Survey.objects.get()
    [request] = telegram_api.requests
    assert request["path"] == f"/bot{BOT_TOKEN}/sendMessage"
    assert f"{SITE}/survey/{survey.token}/" in request["json"]["text"]

    tg_post(tg_channel, update(2, message=message(1366, text="5 muy amable")))

    survey.refresh_from_db()
    assert (survey.score, survey.comment, survey.answered_via) == (5, "muy amable", "reply")
    assert Case.objects.get().status == CaseStatus.RESOLVED
