"""Generic telephony events: a PBX (Asterisk, FreeSWITCH, a cloud contact
center) reports its calls as signed JSON.

Request: ``POST /hooks/<channel-key>/`` with ``Content-Type: application/json``
and ``X-Switchboard-Signature: sha256=<hex HMAC-SHA256 of the raw body with
the channel's secret>`` (the same signing as the generic JSON connector).
Body, one event per request::

    {
      "id": "evt-1001",                 # required, unique per channel (redeliveries are stored once)
      "call_id": "pbx-7781",            # required, the same for every event of one call
      "event": "ringing",               # required: ringing, answered, held, resumed,
                                        #   transferred, ended, missed, abandoned, voicemail, recording
      "direction": "inbound",           # inbound (default) or outbound
      "from": "+34911234567",           # the caller, E.164 (required for ringing, missed,
                                        #   abandoned and voicemail)
      "to": "+34900100200",             # the number called
      "caller_name": "Ana García",
      "at": "2026-11-23T10:00:00Z",     # when it happened (default: when received)
      "duration_seconds": 125,          # on ended
      "recording_url": "https://…",     # on ended, voicemail or recording
      "transcription": "Hola, …",       # on voicemail
      "transfer_to": "ext-204",         # on transferred
      "agent": "ext-201"                # the PBX's agent or extension, kept on the call's timeline
    }

What each event does is described in ``calls/services.py``.
This connector only receives: calls are answered on the phone, not sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from calls.normalized import CALL_EVENTS, CallEvent
from cases.identities import InvalidIdentity, normalize_identity
from cases.normalized import MessageKind, NormalizedMessage, Sender
from connectors.providers.base import PayloadInvalid, SendResult
from connectors.providers.generic_json import GenericJsonProvider

_NEEDS_CALLER = {"ringing", "missed", "abandoned", "voicemail"}


def _string(payload: Mapping, key: str, *, required: bool = False, limit: int = 255) -> str:
    value = payload.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PayloadInvalid(f"field '{key}' must be a string")
    value = value.replace("\x00", "").strip()
    if required and not value:
        raise PayloadInvalid(f"field '{key}' is required")
    if len(value) > limit:
        raise PayloadInvalid(f"field '{key}' is longer than {limit} characters")
    return value


class TelephonyJsonProvider:
    name = "telephony_json"
    label = "Telephony events (JSON, HMAC-SHA256 signed)"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        GenericJsonProvider().verify(channel=channel, body=body, headers=headers, url=url)

    def parse(self, body: bytes) -> dict[str, Any]:
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PayloadInvalid(f"body is not JSON: {exc}") from None
        except RecursionError:
            raise PayloadInvalid("body is not JSON this service accepts: nested too deeply") from None
        if not isinstance(payload, dict):
            raise PayloadInvalid("body must be a JSON object")
        _string(payload, "id", required=True)
        _string(payload, "call_id", required=True, limit=128)
        event = _string(payload, "event", required=True, limit=32)
        if event not in CALL_EVENTS:
            raise PayloadInvalid(f"field 'event' must be one of {', '.join(CALL_EVENTS)}")
        direction = _string(payload, "direction", limit=16) or "inbound"
        if direction not in ("inbound", "outbound"):
            raise PayloadInvalid("field 'direction' must be 'inbound' or 'outbound'")
        caller = _string(payload, "from", limit=64)
        if caller:
            try:
                normalize_identity("phone", caller, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
            except InvalidIdentity as exc:
                raise PayloadInvalid(f"field 'from': {exc}") from None
        elif event in _NEEDS_CALLER and direction == "inbound":
            raise PayloadInvalid(f"field 'from' is required on a {event} event")
        duration = payload.get("duration_seconds")
        if duration is not None and (
            not isinstance(duration, int) or isinstance(duration, bool) or not 0 <= duration <= 10**7
        ):
            raise PayloadInvalid("field 'duration_seconds' must be a whole number of seconds")
        recording = _string(payload, "recording_url", limit=2000)
        if recording and not recording.lower().startswith(("http://", "https://")):
            raise PayloadInvalid("field 'recording_url' must be an http or https URL")
        raw_at = payload.get("at")
        if raw_at not in (None, ""):
            try:
                parsed = parse_datetime(raw_at) if isinstance(raw_at, str) else None
            except ValueError:
                parsed = None
            if parsed is None or parsed.tzinfo is None:
                raise PayloadInvalid("field 'at' must be an ISO 8601 date-time with a time zone")
        for key in ("to", "caller_name", "transfer_to", "agent"):
            _string(payload, key)
        _string(payload, "transcription", limit=20_000)
        return payload

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        return _string(self.parse(body), "id")

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        payload = self.parse(bytes(event.body))
        caller = _string(payload, "from", limit=64)
        call = CallEvent(
            call_id=_string(payload, "call_id", limit=128),
            event=_string(payload, "event", limit=32),
            direction=_string(payload, "direction", limit=16) or "inbound",
            from_number=caller,
            to_number=_string(payload, "to"),
            caller_name=_string(payload, "caller_name"),
            duration_seconds=payload.get("duration_seconds"),
            recording_url=_string(payload, "recording_url", limit=2000),
            transcription=_string(payload, "transcription", limit=20_000),
            transfer_to=_string(payload, "transfer_to"),
            agent=_string(payload, "agent"),
        )
        at = payload.get("at")
        return [
            NormalizedMessage(
                kind=MessageKind.CALL_EVENT,
                channel_kind=channel.kind,
                provider=self.name,
                external_id=call.call_id,
                sender=Sender("phone", caller, call.caller_name[:200]) if caller else None,
                sent_at=parse_datetime(at) if isinstance(at, str) and at else None,
                extra={"call": call},
            )
        ]

    def send(self, *, channel, message) -> SendResult:
        return SendResult(
            status="failed", error="a telephony channel takes calls: reply by phone or on another channel"
        )
