"""Phone events in the generic telephony JSON format: a ringing call is a
voice case routed at once and holding the agent's voice capacity while it
lasts; answered, held, transferred and ended update it; missed and abandoned
calls and voicemails become callback cases."""

from __future__ import annotations

import json

import pytest

from agents.models import Agent
from calls.models import CallSession
from cases.models import Case, CaseStatus, Identity, Message
from connectors.models import InboundEvent
from routing.models import RoutingRule
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(db) -> Agent:
    return factories.agent("ana", capacity={"voice": 2, "sms": 2})


def test_ringing_call_becomes_a_voice_case_assigned_at_once(deliver, pbx, call_event, agent):
    response = deliver(pbx, call_event("c1", "ringing", to="+34900100200", caller_name="Luis"))

    assert response.status_code == 202
    case = Case.objects.get()
    assert case.channel_kind == "voice"
    assert (case.status, case.assignee_id) == (CaseStatus.ASSIGNED, agent.pk)
    assert case.units == 2
    assert case.customer.display_name == "Luis"
    assert Identity.objects.get(customer=case.customer).address == "+34911234567"
    call = CallSession.objects.get(call_id="c1")
    assert call.state == CallSession.State.RINGING and call.case_id == case.pk


def test_a_call_holds_the_agents_whole_voice_capacity_until_it_ends(deliver, pbx, call_event, agent):
    deliver(pbx, call_event("c1", "ringing"))
    deliver(pbx, call_event("c2", "ringing", **{"from": "+34911000000"}))

    first, second = Case.objects.order_by("pk")
    assert first.assignee_id == agent.pk
    assert second.status == CaseStatus.QUEUED  # no voice capacity left for a second call

    deliver(pbx, call_event("c1", "answered", agent="ext-201"))
    deliver(pbx, call_event("c1", "ended", duration_seconds=125, recording_url="https://pbx.example/rec/c1.mp3"))

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == CaseStatus.RESOLVED
    assert (second.status, second.assignee_id) == (CaseStatus.ASSIGNED, agent.pk)  # the freed capacity took it


def test_answered_held_transferred_and_ended_update_the_call(deliver, pbx, call_event, agent):
    deliver(pbx, call_event("c1", "ringing"))
    deliver(pbx, call_event("c1", "answered", at="2026-11-23T10:00:00Z"))
    deliver(pbx, call_event("c1", "held"))
    assert CallSession.objects.get().state == CallSession.State.HELD
    deliver(pbx, call_event("c1", "resumed"))
    deliver(pbx, call_event("c1", "transferred", transfer_to="ext-204"))
    deliver(pbx, call_event("c1", "ended", duration_seconds=95, recording_url="https://pbx.example/rec/c1.mp3"))

    call = CallSession.objects.get()
    assert call.state == CallSession.State.ENDED
    assert call.duration_seconds == 95
    assert call.answered_at.isoformat() == "2026-11-23T10:00:00+00:00"
    assert [line["event"] for line in call.timeline] == [
        "ringing",
        "answered",
        "held",
        "resumed",
        "transferred",
        "ended",
    ]
    assert call.timeline[4]["transfer_to"] == "ext-204"
    message = Message.objects.get(pk=call.message_id)
    assert message.attachments[0]["url"] == "https://pbx.example/rec/c1.mp3"
    assert "95 s" in message.text and "https://pbx.example/rec/c1.mp3" in message.text


def test_missed_call_becomes_a_callback_case_in_its_own_queue(deliver, pbx, call_event):
    callbacks = factories.queue("Callbacks")
    RoutingRule.objects.create(name="Callbacks", match_keywords="callback", queue=callbacks)
    # Nobody is available: the call rings in the queue until the caller hangs up.
    deliver(pbx, call_event("c1", "ringing"))
    case = Case.objects.get()
    assert case.status == CaseStatus.QUEUED

    deliver(pbx, call_event("c1", "abandoned"))

    case.refresh_from_db()
    assert case.subject.startswith("Missed call from +34911234567")
    assert case.queue_id == callbacks.pk
    assert case.status == CaseStatus.QUEUED
    assert CallSession.objects.get().state == CallSession.State.MISSED


def test_ended_before_any_agent_answered_is_a_missed_call(deliver, pbx, call_event):
    deliver(pbx, call_event("c1", "ringing"))
    deliver(pbx, call_event("c1", "ended", duration_seconds=20))

    assert CallSession.objects.get().state == CallSession.State.MISSED
    assert Case.objects.get().subject.startswith("Missed call")


def test_missed_call_without_a_ringing_event_opens_a_callback_case(deliver, pbx, call_event):
    deliver(pbx, call_event("c9", "missed"))

    case = Case.objects.get()
    assert case.subject.startswith("Missed call from +34911234567")
    assert case.status == CaseStatus.QUEUED


def test_voicemail_becomes_a_case_with_recording_and_transcription(deliver, pbx, call_event):
    deliver(
        pbx,
        call_event(
            "c5",
            "voicemail",
            recording_url="https://pbx.example/vm/c5.wav",
            transcription="Hola, llamo por mi factura.",
        ),
    )

    case = Case.objects.get()
    message = case.messages.get()
    assert "Hola, llamo por mi factura." in message.text
    assert message.attachments[0]["url"] == "https://pbx.example/vm/c5.wav"
    assert CallSession.objects.get().state == CallSession.State.VOICEMAIL


def test_voicemail_after_an_unanswered_ring_joins_the_calls_case(deliver, pbx, call_event):
    deliver(pbx, call_event("c1", "ringing"))
    deliver(pbx, call_event("c1", "voicemail", recording_url="https://pbx.example/vm/c1.wav"))

    case = Case.objects.get()
    assert case.messages.count() == 2
    assert case.subject.startswith("Voicemail from")
    assert CallSession.objects.get().state == CallSession.State.VOICEMAIL


def test_late_events_of_an_ended_call_change_nothing(deliver, pbx, call_event, agent):
    deliver(pbx, call_event("c1", "ringing"))
    deliver(pbx, call_event("c1", "answered"))
    deliver(pbx, call_event("c1", "ended", duration_seconds=30))

    deliver(pbx, call_event("c1", "held"))  # arrives late

    call = CallSession.objects.get()
    assert call.state == CallSession.State.ENDED
    assert call.timeline[-1]["event"] == "held"


def test_duplicate_event_is_stored_once(deliver, pbx, call_event, agent):
    body = call_event("c1", "ringing")

    assert deliver(pbx, body).status_code == 202
    assert deliver(pbx, body).status_code == 200

    assert InboundEvent.objects.count() == 1
    assert Case.objects.count() == 1


def test_events_of_a_call_we_never_saw_ring_are_ignored(deliver, pbx, call_event):
    assert deliver(pbx, call_event("zz", "answered")).status_code == 202

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert Case.objects.count() == 0


@pytest.mark.parametrize("signature", [None, "sha256=00", "sha1=abc"])
def test_bad_signature_is_refused_and_nothing_stored(client, pbx, call_event, signature):
    headers = {} if signature is None else {"HTTP_X_SWITCHBOARD_SIGNATURE": signature}

    response = client.post(
        "/hooks/pbx/", data=json.dumps(call_event("c1", "ringing")), content_type="application/json", **headers
    )

    assert response.status_code == 403
    assert InboundEvent.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"event": "exploded"}, "event"),
        ({"call_id": ""}, "call_id"),
        ({"from": ""}, "from"),
        ({"from": "not a phone"}, "from"),
        ({"duration_seconds": "12"}, "duration_seconds"),
        ({"recording_url": "javascript:alert(1)"}, "recording_url"),
        ({"at": "yesterday"}, "at"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_invalid_events_get_a_clear_400(deliver, pbx, call_event, fields, detail):
    response = deliver(pbx, call_event("c1", "ringing") | fields)

    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert Case.objects.count() == 0


def test_unknown_fields_are_kept_and_ignored(deliver, pbx, call_event, agent):
    response = deliver(pbx, call_event("c1", "ringing", queue_hint="vip", pbx_version=18))

    assert response.status_code == 202
    assert b"queue_hint" in bytes(InboundEvent.objects.get().body)
    assert Case.objects.count() == 1


def test_end_of_an_unknown_call_from_a_withheld_number_is_ignored(deliver, pbx, call_event):
    body = call_event("c7", "ended", duration_seconds=3)
    del body["from"]

    assert deliver(pbx, body).status_code == 202

    assert InboundEvent.objects.get().status == InboundEvent.Status.IGNORED
    assert Case.objects.count() == 0
