"""Phone calls: what a call event (Twilio Voice, a PBX's JSON) does to cases.

Connectors normalize a provider's call event to a ``CALL_EVENT`` whose
``extra["call"]`` is a ``calls.normalized.CallEvent`` and hand it here.

A call is a ``CallSession`` (one per channel and call id) tied to its case.

- ``ringing`` on an inbound call opens a voice case, classified and queued at
  once (the queue's ``case_units`` may make it take the agent's whole voice
  capacity); the call is a message on the case ("Incoming call from …").
- ``answered``, ``held``, ``resumed`` and ``transferred`` update the call and
  add a line to its timeline (``CallSession.timeline``).
- ``ended`` records the duration and recording link (an attachment of the
  call's message). An answered call's case is resolved for its agent (wrap-up
  if the queue has one), which frees the voice capacity; an unanswered one is
  a missed call.
- ``missed`` and ``abandoned`` (and ``ended`` before an answer) make the case a
  callback case: subject "Call back …", re-classified with the words
  "missed call callback" so a routing rule can send callbacks to their own
  queue and SLA.
- ``voicemail`` adds the recording (and transcription) to the call's case, or
  opens a callback case with it.

Events may arrive out of order or twice: a call never goes back from ended,
and every event is applied at most once (the inbound event's dedupe key).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from django.db import transaction

from agents.models import Agent
from calls.models import CallSession
from calls.normalized import CallEvent
from cases import services as case_services
from cases.models import Case, CaseStatus, Message
from cases.normalized import Attachment, MessageKind, NormalizedMessage, Sender
from routing.classify import classify_case
from routing.ranking import queue_case

_FINAL = {"ended", "missed", "abandoned"}


def apply_call_event(*, channel, normalized, now: datetime):
    """Apply one normalized call event; returns (changed, message stored)."""
    call: CallEvent = normalized.extra["call"]
    at = normalized.sent_at or now
    session = CallSession.objects.select_for_update().filter(channel=channel, call_id=call.call_id).first()

    sender = normalized.sender
    if sender is None and session is not None and session.from_number:
        sender = Sender(identity_kind="phone", address=session.from_number)

    def open_case(text: str, external_id: str, attachments=()):
        item = NormalizedMessage(
            kind=MessageKind.MESSAGE,
            channel_kind=channel.kind,
            provider=normalized.provider,
            external_id=external_id,
            thread_key=f"call:{call.call_id}"[:255],
            sender=sender,
            text=text,
            subject=text[:255],
            attachments=tuple(attachments),
            sent_at=at,
        )
        return case_services.receive_message(channel=channel, normalized=item, now=now)

    if session is None:
        if call.direction != "inbound" or call.event not in ("ringing", "missed", "abandoned", "voicemail", "ended"):
            return False, None  # a call we never saw ring, or one we placed: nothing to open
        if sender is None:
            return False, None  # a withheld number: nobody to call back
        callback = call.event != "ringing"
        text = _callback_text(call) if callback else f"Incoming call from {call.from_number}"
        attachments = _recording(call)
        received = open_case(text, f"call:{call.call_id}", attachments)
        with transaction.atomic():
            session = CallSession.objects.create(
                channel=channel,
                call_id=call.call_id,
                case=received.case,
                message=received.message,
                direction=call.direction,
                from_number=call.from_number[:64],
                to_number=call.to_number[:64],
                state=_state_for_new(call.event),
                started_at=at,
                ended_at=at if callback else None,
                duration_seconds=call.duration_seconds,
                recording_url=call.recording_url[:2000],
                transcription=call.transcription,
                timeline=[_line(call, at)],
            )
        case = received.case
        if case.status == CaseStatus.NEW:
            classify_text = f"{text} missed call callback" if callback else text
            classify_case(case=case, text=classify_text, now=now)
            queue_case(case=case, now=now)
        return True, received.message

    session.timeline = [*session.timeline, _line(call, at)]
    if session.ended_at is not None and call.event not in ("voicemail", "ended", "recording"):
        session.save(update_fields=["timeline"])
        return False, None  # a late event of a finished call: kept on its timeline only
    stored = None
    if call.recording_url:
        session.recording_url = call.recording_url[:2000]
        _attach_recording(session=session, call=call)
    if call.duration_seconds is not None:
        session.duration_seconds = call.duration_seconds
    if call.event == "answered":
        session.state = CallSession.State.ANSWERED
        session.answered_at = session.answered_at or at
    elif call.event == "held":
        session.state = CallSession.State.HELD
    elif call.event == "resumed":
        session.state = CallSession.State.ANSWERED
    elif call.event == "recording" and not _reached_agent(session.case_id):
        call = replace(call, event="voicemail")  # recorded before any agent took it: a voicemail
    # A repeated end only adds its duration and recording.
    if call.event in _FINAL and session.ended_at is None:
        session.ended_at = at
        if call.event == "ended" and _reached_agent(session.case_id):
            session.state = CallSession.State.ENDED
            _resolve_for_agent(case_id=session.case_id, now=now)
        else:
            session.state = CallSession.State.MISSED
            _make_callback(session=session, call=call, now=now)
    if call.event == "voicemail" and sender is not None:
        if Message.objects.filter(channel=channel, provider_message_id=f"voicemail:{call.call_id}").exists():
            session.save(update_fields=["timeline"])
            return False, None
        session.transcription = call.transcription or session.transcription
        received = open_case(_callback_text(call), f"voicemail:{call.call_id}", _recording(call))
        stored = received.message
        if not _reached_agent(session.case_id):
            session.state = CallSession.State.VOICEMAIL
            if session.ended_at is None:
                session.ended_at = at
                _make_callback(session=session, call=call, now=now)
    session.save()
    if stored is None and session.message_id:
        Message.objects.filter(pk=session.message_id).update(text=_summary(session))
    return True, stored


def _state_for_new(event: str) -> str:
    if event == "voicemail":
        return CallSession.State.VOICEMAIL
    if event == "ringing":
        return CallSession.State.RINGING
    return CallSession.State.MISSED


def _line(call: CallEvent, at: datetime) -> dict:
    line = {"event": call.event, "at": at.isoformat()}
    for name in ("duration_seconds", "recording_url", "transfer_to", "agent"):
        value = getattr(call, name)
        if value not in (None, ""):
            line[name] = value
    return line


def _recording(call: CallEvent) -> list:
    if not call.recording_url:
        return []
    return [Attachment(name="call-recording", content_type="audio/mpeg", url=call.recording_url[:2000])]


def _attach_recording(*, session: CallSession, call: CallEvent) -> None:
    if session.message_id is None:
        return
    message = Message.objects.filter(pk=session.message_id).first()
    if message is None or any(a.get("url") == call.recording_url for a in message.attachments):
        return
    message.attachments = [
        *message.attachments,
        {"name": "call-recording", "content_type": "audio/mpeg", "size": None, "url": call.recording_url[:2000]},
    ]
    message.save(update_fields=["attachments"])


def _callback_text(call: CallEvent) -> str:
    if call.event == "voicemail":
        text = f"Voicemail from {call.from_number}: call back"
        if call.transcription:
            text += f"\n\n{call.transcription}"
        return text
    return f"Missed call from {call.from_number}: call back"


def _summary(session: CallSession) -> str:
    parts = [f"Call from {session.from_number}: {session.get_state_display()}"]
    if session.duration_seconds is not None:
        parts.append(f"{session.duration_seconds} s")
    if session.recording_url:
        parts.append(f"recording: {session.recording_url}")
    return ", ".join(parts)


def _reached_agent(case_id: int) -> bool:
    return Case.objects.filter(pk=case_id, first_assigned_at__isnull=False).exists()


def _resolve_for_agent(*, case_id: int, now: datetime) -> None:
    """The call is over: its agent's voice capacity frees (wrap-up if any)."""
    case = Case.objects.filter(pk=case_id).first()
    if case is None or case.assignee_id is None or case.status not in (CaseStatus.ASSIGNED, CaseStatus.WAITING):
        return
    agent = Agent.objects.get(pk=case.assignee_id)
    case_services.resolve_case(case_id=case.pk, agent=agent, now=now)


def _make_callback(*, session: CallSession, call: CallEvent, now: datetime) -> None:
    """An unanswered call: the case becomes a callback, re-classified when it
    is still waiting so a rule can send callbacks to their own queue."""
    case = Case.objects.select_for_update().get(pk=session.case_id)
    text = _callback_text(call)
    case.subject = text.splitlines()[0][:255]
    case.save(update_fields=["subject", "updated_at"])
    if case.status in (CaseStatus.NEW, CaseStatus.QUEUED):
        classify_case(case=case, text=f"{text} missed call callback", now=now)
        queue_case(case=case, now=now)
