"""Twilio Voice status callbacks (CallSid, CallStatus, Direction, From, To,
CallDuration, RecordingUrl) drive the same call handling as the PBX events."""

from __future__ import annotations

import pytest

from calls.models import CallSession
from cases.models import Case, CaseStatus
from connectors.models import Channel, InboundEvent
from tests import factories
from tests.connectors.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN, post_twilio

pytestmark = pytest.mark.django_db

CALL_SID = "CA" + "c" * 32


@pytest.fixture
def number(voice_queue) -> Channel:
    return Channel.objects.create(
        key="twilio-voice",
        name="Phone",
        kind="voice",
        provider="twilio",
        secret=AUTH_TOKEN,
        config={"account_sid": ACCOUNT_SID},
        default_queue=voice_queue,
    )


@pytest.fixture
def send(client, django_capture_on_commit_callbacks):
    def _send(channel, params, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post_twilio(client, channel, params, **kwargs)

    return _send


def call(status: str, sequence: int, **fields) -> dict:
    params = {
        "Called": "+18005550199",
        "ToState": "CA",
        "CallerCountry": "US",
        "Direction": "inbound",
        "Timestamp": "Mon, 23 Nov 2026 10:00:00 +0000",
        "CallbackSource": "call-progress-events",
        "SequenceNumber": str(sequence),
        "CallerState": "CA",
        "ToZip": "",
        "CallSid": CALL_SID,
        "To": "+18005550199",
        "CallerZip": "94105",
        "ToCountry": "US",
        "ApiVersion": "2010-04-01",
        "CalledZip": "",
        "CallStatus": status,
        "From": "+14155550100",
        "AccountSid": ACCOUNT_SID,
        "Caller": "+14155550100",
        "CallerCity": "SAN FRANCISCO",
    }
    params.update(fields)
    return params


def test_ringing_answered_completed_with_duration_and_recording(send, number):
    agent = factories.agent("ana", capacity={"voice": 2})

    assert send(number, call("ringing", 0)).status_code == 202
    case = Case.objects.get()
    assert (case.status, case.assignee_id, case.channel_kind) == (CaseStatus.ASSIGNED, agent.pk, "voice")

    send(number, call("in-progress", 1))
    send(
        number,
        call(
            "completed",
            2,
            CallDuration="61",
            RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
        ),
    )

    session = CallSession.objects.get()
    assert session.state == CallSession.State.ENDED
    assert session.duration_seconds == 61
    assert session.recording_url.endswith("/Recordings/RE1")
    case.refresh_from_db()
    assert case.status == CaseStatus.RESOLVED


def test_no_answer_becomes_a_callback_case(send, number):
    send(number, call("ringing", 0))
    send(number, call("no-answer", 1))

    assert CallSession.objects.get().state == CallSession.State.MISSED
    assert Case.objects.get().subject.startswith("Missed call from +14155550100")


def test_recording_before_any_agent_is_a_voicemail_with_its_transcription(send, number):
    send(number, call("ringing", 0))
    send(number, call("in-progress", 1))  # Twilio answered with TwiML <Record>: no agent yet
    send(
        number,
        {
            "CallSid": CALL_SID,
            "AccountSid": ACCOUNT_SID,
            "From": "+14155550100",
            "To": "+18005550199",
            "TranscriptionText": "Please call me back about my bill.",
            "TranscriptionStatus": "completed",
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE9",
            "RecordingSid": "RE" + "9" * 32,
        },
    )

    case = Case.objects.get()
    assert CallSession.objects.get().state == CallSession.State.VOICEMAIL
    texts = [m.text for m in case.messages.all()]
    assert any("Please call me back about my bill." in text for text in texts)


def test_duplicate_callback_is_stored_once(send, number):
    assert send(number, call("ringing", 0)).status_code == 202
    assert send(number, call("ringing", 0)).status_code == 200

    assert InboundEvent.objects.count() == 1
    assert Case.objects.count() == 1


def test_outbound_and_initiated_calls_open_nothing(send, number):
    send(number, call("initiated", 0, Direction="outbound-api"))
    send(number, call("ringing", 1, Direction="outbound-api"))

    assert Case.objects.count() == 0
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {InboundEvent.Status.IGNORED}


def test_withheld_caller_rings_without_opening_an_uncallable_case(send, number):
    send(number, call("ringing", 0, From="anonymous", Caller="anonymous"))

    assert Case.objects.count() == 0
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED


def test_unsigned_call_callback_is_refused(client, number):
    response = post_twilio(client, number, call("ringing", 0), signature=None)

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


def test_completed_call_from_a_withheld_number_is_ignored(send, number):
    send(number, call("completed", 3, From="anonymous", Caller="anonymous", CallDuration="4"))

    assert Case.objects.count() == 0
    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
