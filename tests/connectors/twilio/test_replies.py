"""Replies leave through Twilio's Messages API (played by a loopback server),
with an idempotency key; 4xx fails clearly, 5xx/429/timeouts are retried with
backoff; Twilio's status callbacks move the reply forward, never back."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from cases import services as case_services
from cases.events import EscalationRaised
from cases.models import CaseStatus, Message
from config import events
from connectors import outbound
from connectors.models import Channel, InboundEvent
from connectors.outbound import DeliveryAttempt
from connectors.services import deliver_message, retry_due_deliveries
from tests import factories
from tests.connectors.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, inbound_sms, inbound_whatsapp, status_callback

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(db):
    return factories.agent("ana", capacity={"sms": 3, "whatsapp": 3, "voice": 1})


@pytest.fixture
def sms_case(send, sms_channel, twilio_api, agent):
    sms_channel.config = sms_channel.config | {"api_base": twilio_api.base}
    sms_channel.save()
    send(sms_channel, inbound_sms(Body="Where is my parcel?"))
    case = Message.objects.get(direction="in").case
    assert case.status == CaseStatus.ASSIGNED and case.assignee_id == agent.pk
    return case


def _reply(case, django_capture_on_commit_callbacks, text="It ships today."):
    with django_capture_on_commit_callbacks(execute=True):
        message = case_services.send_reply(case_id=case.pk, agent=case.assignee, text=text, now=timezone.now())
    message.refresh_from_db()
    return message


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def escalations():
    seen: list[EscalationRaised] = []
    events.subscribe(EscalationRaised, seen.append)
    yield seen
    events.unsubscribe(EscalationRaised, seen.append)


def test_reply_is_posted_to_twilio_in_its_format(sms_case, twilio_api, capture):
    message = _reply(sms_case, capture)

    assert message.delivery_status == Message.Delivery.SENT
    assert message.provider_message_id.startswith("SM")
    [request] = twilio_api.requests
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["form"] == {"To": "+14155550100", "From": "+15005550006", "Body": "It ships today."}
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request["headers"]["Authorization"] == f"Basic {expected}"
    assert request["headers"]["I-Twilio-Idempotency-Token"] == outbound.idempotency_key(message)


def test_whatsapp_reply_uses_whatsapp_addresses(send, twilio_api, agent, capture):
    queue = factories.queue("WA", auto_accept=True)
    channel = Channel.objects.create(
        key="twilio-wa",
        name="WA",
        kind="whatsapp",
        provider="twilio",
        secret=AUTH_TOKEN,
        config={"account_sid": ACCOUNT_SID, "api_base": twilio_api.base, "from": "+14155238886"},
        default_queue=queue,
    )
    send(channel, inbound_whatsapp())
    case = Message.objects.get(direction="in").case

    _reply(case, capture, text="¡Hola Ana!")

    assert twilio_api.requests[0]["form"]["To"] == "whatsapp:+34600111222"
    assert twilio_api.requests[0]["form"]["From"] == "whatsapp:+14155238886"


def test_reply_asks_twilio_for_status_callbacks_at_the_public_url(sms_case, twilio_api, capture):
    channel = sms_case.channel
    channel.config = channel.config | {"webhook_url": "https://support.example.com/hooks/twilio-sms/"}
    channel.save()

    _reply(sms_case, capture)

    assert twilio_api.requests[0]["form"]["StatusCallback"] == "https://support.example.com/hooks/twilio-sms/"


def test_refused_reply_fails_with_twilios_message_and_escalates(sms_case, twilio_api, capture, escalations):
    twilio_api.answers = [(400, {"code": 21211, "message": "The 'To' number is not a valid phone number."})]

    message = _reply(sms_case, capture)

    assert message.delivery_status == Message.Delivery.FAILED
    assert "21211" in message.delivery_error and "not a valid phone number" in message.delivery_error
    assert len(twilio_api.requests) == 1  # a refusal is final: not retried
    assert DeliveryAttempt.objects.get(message=message).next_try_at is None
    assert [(e.kind, e.case_id) for e in escalations] == [("outbound_failed", sms_case.pk)]


def test_server_error_is_retried_with_backoff_then_sent(sms_case, twilio_api, capture, settings):
    twilio_api.answers = [(500, {"code": 20500, "message": "Internal Server Error"}), (201, {})]

    message = _reply(sms_case, capture)

    assert message.delivery_status == Message.Delivery.QUEUED
    attempt = DeliveryAttempt.objects.get(message=message)
    assert attempt.attempts == 1
    assert "20500" in attempt.last_error
    # The first wait is the base (10 s by default): not due before, due after.
    assert timedelta(seconds=9) < attempt.next_try_at - attempt.updated_at <= timedelta(seconds=10)
    assert retry_due_deliveries(now=attempt.updated_at + timedelta(seconds=5)) == 0
    assert len(twilio_api.requests) == 1

    # The task the tick hands it to takes its own clock: make the try due now.
    DeliveryAttempt.objects.filter(pk=attempt.pk).update(next_try_at=timezone.now() - timedelta(seconds=1))
    with capture(execute=True):
        assert retry_due_deliveries(now=timezone.now()) == 1

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT
    assert message.provider_message_id.startswith("SM")
    assert len(twilio_api.requests) == 2
    keys = {r["headers"]["I-Twilio-Idempotency-Token"] for r in twilio_api.requests}
    assert keys == {outbound.idempotency_key(message)}  # one key for every try
    assert DeliveryAttempt.objects.get(message=message).next_try_at is None


def test_the_tick_retries_due_sends(sms_case, twilio_api, capture, settings):
    from config.tasks import tick

    settings.SWITCHBOARD = settings.SWITCHBOARD | {"OUTBOUND_RETRY_BASE_SECONDS": 0}
    twilio_api.answers = [(503, {}), (201, {})]
    message = _reply(sms_case, capture)
    assert message.delivery_status == Message.Delivery.QUEUED

    with capture(execute=True):
        tick.run()

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.SENT


def test_rate_limit_and_unreachable_api_are_retried(sms_case, twilio_api, capture):
    twilio_api.answers = [(429, {"code": 20429, "message": "Too Many Requests"})]
    message = _reply(sms_case, capture)
    assert message.delivery_status == Message.Delivery.QUEUED

    Channel.objects.filter(pk=sms_case.channel_id).update(
        config={"account_sid": ACCOUNT_SID, "api_base": "http://127.0.0.1:9"}
    )
    DeliveryAttempt.objects.filter(message=message).update(next_try_at=timezone.now())
    message = deliver_message(message_id=message.pk, now=timezone.now() + timedelta(seconds=1))

    assert message.delivery_status == Message.Delivery.QUEUED
    attempt = DeliveryAttempt.objects.get(message=message)
    assert attempt.attempts == 2
    assert "could not be reached" in attempt.last_error
    assert attempt.next_try_at - attempt.updated_at == timedelta(seconds=30)  # 10 s, then 30 s


def test_always_failing_server_fails_after_the_last_try_and_escalates(
    sms_case, twilio_api, capture, settings, escalations
):
    settings.SWITCHBOARD = settings.SWITCHBOARD | {"OUTBOUND_MAX_ATTEMPTS": 3}
    twilio_api.answers = [(500, {"message": "Internal Server Error"})]
    message = _reply(sms_case, capture)
    now = timezone.now()
    for _ in range(3):
        now += timedelta(hours=1)  # well past any backoff
        with capture(execute=True):
            message = deliver_message(message_id=message.pk, now=now)

    assert len(twilio_api.requests) == 3  # the third try was the last; a fourth call sends nothing
    assert message.delivery_status == Message.Delivery.FAILED
    assert message.delivery_error.startswith("gave up after 3 tries")
    assert "Internal Server Error" in message.delivery_error
    assert DeliveryAttempt.objects.get(message=message).next_try_at is None
    assert [(e.kind, e.case_id) for e in escalations] == [("outbound_failed", sms_case.pk)]


def test_a_send_in_progress_is_not_sent_twice(sms_case, twilio_api, capture):
    twilio_api.answers = [(500, {})]
    message = _reply(sms_case, capture)
    now = timezone.now() + timedelta(minutes=5)
    assert outbound.claim(message_id=message.pk, now=now) is not None  # another worker holds it

    deliver_message(message_id=message.pk, now=now)

    assert len(twilio_api.requests) == 1


def test_status_callbacks_move_the_reply_forward_never_back(send, sms_case, twilio_api, capture):
    message = _reply(sms_case, capture)
    sid = message.provider_message_id

    for status in ("delivered", "queued", "sent"):  # out of order: delivered arrives first
        assert send(sms_case.channel, status_callback(sid, status)).status_code == 202

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.DELIVERED
    send(sms_case.channel, status_callback(sid, "read"))
    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.READ


def test_duplicate_status_callback_is_stored_once(send, sms_case, twilio_api, capture):
    message = _reply(sms_case, capture)
    params = status_callback(message.provider_message_id, "delivered")

    assert send(sms_case.channel, params).status_code == 202
    assert send(sms_case.channel, params).status_code == 200

    assert InboundEvent.objects.filter(dedupe_key=f"{message.provider_message_id}:delivered").count() == 1


def test_undelivered_callback_fails_the_reply_with_twilios_error_code(send, sms_case, twilio_api, capture):
    message = _reply(sms_case, capture)

    send(sms_case.channel, status_callback(message.provider_message_id, "undelivered", ErrorCode="30003"))

    message.refresh_from_db()
    assert message.delivery_status == Message.Delivery.FAILED
    assert "30003" in message.delivery_error


def test_status_for_a_message_we_never_sent_changes_nothing(send, sms_case, twilio_api, capture):
    response = send(sms_case.channel, status_callback("SM" + "f" * 32, "delivered"))

    assert response.status_code == 202
    assert InboundEvent.objects.get(dedupe_key="SM" + "f" * 32 + ":delivered").status == InboundEvent.Status.IGNORED


def test_a_failed_reply_queued_again_gets_a_new_round_of_tries(sms_case, twilio_api, capture):
    twilio_api.answers = [(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}), (201, {})]
    message = _reply(sms_case, capture)
    assert message.delivery_status == Message.Delivery.FAILED

    Message.objects.filter(pk=message.pk).update(delivery_status=Message.Delivery.QUEUED, delivery_error="")
    message = deliver_message(message_id=message.pk, now=timezone.now())

    assert message.delivery_status == Message.Delivery.SENT
    assert DeliveryAttempt.objects.get(message=message).attempts == 1
