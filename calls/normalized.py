"""What every telephony provider's call event becomes: one shape for Twilio
Voice, a PBX's JSON and any other provider (``NormalizedMessage.extra["call"]``
of a ``CALL_EVENT``)."""

from __future__ import annotations

from dataclasses import dataclass

CALL_EVENTS = (
    "ringing",
    "answered",
    "held",
    "resumed",
    "transferred",
    "ended",
    "missed",
    "abandoned",
    "voicemail",
    "recording",
)


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One call event, in the shape every telephony provider normalizes to
    (``NormalizedMessage.extra["call"]``)."""

    call_id: str
    event: str  # one of CALL_EVENTS
    direction: str = "inbound"
    from_number: str = ""
    to_number: str = ""
    caller_name: str = ""
    duration_seconds: int | None = None
    recording_url: str = ""
    transcription: str = ""
    transfer_to: str = ""
    agent: str = ""
