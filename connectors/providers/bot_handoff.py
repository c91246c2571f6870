"""Chatbot handoff: a bot platform hands a conversation over to people.

The channel is the bot's (its ``kind`` says where the bot talks: web chat,
WhatsApp…). A handoff arrives as ``POST /api/v1/handoffs/`` (token auth) or
signed like the generic JSON connector at ``POST /hooks/<key>/``. Body::

    {
      "channel": "support-bot",                 # API only: the channel's key
      "conversation_id": "conv-881",            # required, unique per channel
      "customer": {"kind": "email", "address": "ana@example.com", "name": "Ana"},
      "transcript": [                           # required, in order, 1..500 lines
        {"from": "customer", "text": "My parcel is lost", "sent_at": "2026-11-23T10:00:00Z"},
        {"from": "bot", "text": "Can you give me the order number?", "bot_name": "Sam"}
      ],
      "collected": {"order": "77", "topic": "delivery"},   # what the bot learnt
      "reason": "customer asked for a person",  # required
      "language": "es", "subject": "Lost parcel"
    }

It becomes one case: the transcript its first messages (customer lines
inbound, bot lines outbound with ``bot_name`` set), a ``handoff`` event on the
timeline with the reason and what was collected, classified by the routing
rules and queued. Agents' replies go, signed, to ``config["reply_url"]``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_datetime

from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from cases.normalized import MessageKind, NormalizedMessage, Sender
from connectors.providers import generic_json
from connectors.providers.base import PayloadInvalid, SendResult

MAX_LINES = 500
MAX_LINE_CHARS = 10_000
MAX_COLLECTED = 100


def _text(payload: Mapping, key: str, where: str, *, required: bool = False, limit: int = 255) -> str:
    value = payload.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PayloadInvalid(f"'{where}{key}' must be a string")
    if "\x00" in value:
        raise PayloadInvalid(f"'{where}{key}' must not contain NUL characters")
    if required and not value.strip():
        raise PayloadInvalid(f"'{where}{key}' is required")
    if len(value) > limit:
        raise PayloadInvalid(f"'{where}{key}' is longer than {limit} characters")
    return value


def _when(payload: Mapping, where: str):
    raw = payload.get("sent_at")
    if raw in (None, ""):
        return None
    try:
        parsed = parse_datetime(raw) if isinstance(raw, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise PayloadInvalid(f"'{where}sent_at' must be an ISO 8601 date-time with a time zone")
    return parsed


def parse_handoff(body: bytes) -> dict[str, Any]:
    """The validated handoff, or PayloadInvalid saying what is wrong."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadInvalid(f"body is not JSON: {exc}") from None
    except RecursionError:
        raise PayloadInvalid("body is not JSON this service accepts: nested too deeply") from None
    if not isinstance(payload, dict):
        raise PayloadInvalid("body must be a JSON object")
    out: dict[str, Any] = {
        "conversation_id": _text(payload, "conversation_id", "", required=True, limit=200),
        "reason": _text(payload, "reason", "", required=True, limit=1000),
        "language": _text(payload, "language", "", limit=16).lower(),
        "subject": _text(payload, "subject", "", limit=255),
    }
    customer = payload.get("customer")
    if not isinstance(customer, dict):
        raise PayloadInvalid("'customer' is required: an object with 'kind' and 'address'")
    kind = customer.get("kind")
    if not isinstance(kind, str) or kind not in IdentityKind.values:
        raise PayloadInvalid(f"'customer.kind' must be one of {', '.join(IdentityKind.values)}")
    address = _text(customer, "address", "customer.", required=True)
    try:
        normalize_identity(kind, address, default_region=settings.SWITCHBOARD.get("DEFAULT_PHONE_REGION"))
    except InvalidIdentity as exc:
        raise PayloadInvalid(f"'customer.address': {exc}") from None
    out["customer"] = {"kind": kind, "address": address, "name": _text(customer, "name", "customer.", limit=200)}

    transcript = payload.get("transcript")
    if not isinstance(transcript, list) or not transcript:
        raise PayloadInvalid("'transcript' is required: a non-empty list of lines")
    if len(transcript) > MAX_LINES:
        raise PayloadInvalid(f"'transcript' has more than {MAX_LINES} lines")
    lines = []
    for i, line in enumerate(transcript):
        where = f"transcript[{i}]."
        if not isinstance(line, dict):
            raise PayloadInvalid(f"'transcript[{i}]' must be an object with 'from' and 'text'")
        speaker = line.get("from")
        if speaker not in ("bot", "customer"):
            raise PayloadInvalid(f"'{where}from' must be 'bot' or 'customer'")
        lines.append(
            {
                "from": speaker,
                "text": _text(line, "text", where, required=True, limit=MAX_LINE_CHARS),
                "sent_at": _when(line, where),
                "bot_name": _text(line, "bot_name", where, limit=120) if speaker == "bot" else "",
            }
        )
    if not any(line["from"] == "customer" for line in lines):
        raise PayloadInvalid("'transcript' has no line from the customer")
    out["transcript"] = lines

    collected = payload.get("collected") or {}
    if not isinstance(collected, dict):
        raise PayloadInvalid("'collected' must be an object of names and values")
    if len(collected) > MAX_COLLECTED:
        raise PayloadInvalid(f"'collected' has more than {MAX_COLLECTED} entries")
    for name, value in collected.items():
        if len(name) > 100:
            raise PayloadInvalid("'collected' names are limited to 100 characters")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise PayloadInvalid(f"'collected.{name[:100]}' must be a string, number, true/false or null")
        if isinstance(value, str) and len(value) > 2000:
            raise PayloadInvalid(f"'collected.{name[:100]}' is longer than 2000 characters")
    out["collected"] = collected
    return out


class BotHandoffProvider:
    name = "bot_handoff"
    label = "Chatbot handoff (transcript, collected data, reason)"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        generic_json.GenericJsonProvider().verify(channel=channel, body=body, headers=headers, url=url)

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        return parse_handoff(body)["conversation_id"]

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        handoff = parse_handoff(bytes(event.body))
        customer = handoff["customer"]
        first_customer_line = next(line["text"] for line in handoff["transcript"] if line["from"] == "customer")
        return [
            NormalizedMessage(
                kind=MessageKind.BOT_HANDOFF,
                channel_kind=channel.kind,
                provider=self.name,
                external_id=handoff["conversation_id"],
                thread_key=f"handoff:{handoff['conversation_id']}",
                sender=Sender(
                    identity_kind=customer["kind"], address=customer["address"], display_name=customer["name"]
                ),
                text=first_customer_line,
                subject=handoff["subject"],
                language=handoff["language"],
                extra={
                    "transcript": handoff["transcript"],
                    "collected": handoff["collected"],
                    "reason": handoff["reason"],
                },
            )
        ]

    def send(self, *, channel, message) -> SendResult:
        return generic_json.GenericJsonProvider().send(channel=channel, message=message)
