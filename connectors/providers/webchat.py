"""The built-in web chat. Customer frames arrive over ``/ws/chat/<key>/``
(``connectors.webchat.consumer``), never over ``/hooks/``; the consumer
authenticates the visitor and stores each message frame, raw, as an
``InboundEvent`` whose body is::

    {"frame": "<the frame exactly as the widget sent it>",
     "visitor": {"channel_key": …, "visitor_id": …, "user_id": …, "name": …, "email": …}}

Frames the widget sends as messages::

    {"type": "message", "id": "<client id, unique per conversation>", "text": "…"}
    {"type": "offline", "id": "…", "name": "Ana", "email": "ana@example.com", "text": "…"}

An ``offline`` frame (no agent serves the chat queue) becomes an email-style
case: channel kind ``email``, answered by email. Replies to a live chat go to
the visitor's websocket group; the widget shows every message again on
reconnect, so a reply sent while it was away is not lost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage

from cases.identities import IdentityKind, InvalidIdentity, normalize_identity
from cases.normalized import MessageKind, NormalizedMessage, Sender
from connectors.providers.base import PayloadInvalid, SendResult, SignatureInvalid

MAX_TEXT = 10_000


def chat_group(channel_id: int, thread_key: str) -> str:
    """The websocket group of one conversation (ASCII, under 100 characters)."""
    return f"webchat.{channel_id}.{hashlib.sha256(thread_key.encode()).hexdigest()[:40]}"


def _text(frame: Mapping, key: str, *, required: bool = False, limit: int = 255) -> str:
    value = frame.get(key)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise PayloadInvalid(f"'{key}' must be a string")
    if "\x00" in value:
        raise PayloadInvalid(f"'{key}' must not contain NUL characters")
    if required and not value.strip():
        raise PayloadInvalid(f"'{key}' is required")
    if len(value) > limit:
        raise PayloadInvalid(f"'{key}' is longer than {limit} characters")
    return value


def parse_frame(raw: str) -> dict[str, Any]:
    """A customer's message frame, validated, or PayloadInvalid saying why."""
    try:
        frame = json.loads(raw)
    except (TypeError, ValueError) as exc:
        raise PayloadInvalid(f"frame is not JSON: {exc}") from None
    except RecursionError:
        raise PayloadInvalid("frame is nested too deeply") from None
    if not isinstance(frame, dict):
        raise PayloadInvalid("a frame is a JSON object")
    kind = frame.get("type")
    if kind not in ("message", "offline"):
        raise PayloadInvalid("'type' must be 'message' or 'offline'")
    out = {
        "type": kind,
        "id": _text(frame, "id", required=True, limit=64),
        "text": _text(frame, "text", required=True, limit=MAX_TEXT).strip(),
    }
    if kind == "offline":
        out["name"] = _text(frame, "name", limit=200).strip()
        email = _text(frame, "email", required=True, limit=254)
        try:
            out["email"] = normalize_identity(IdentityKind.EMAIL, email)
        except InvalidIdentity as exc:
            raise PayloadInvalid(f"'email': {exc}") from None
    return out


def _stored(body: bytes) -> tuple[dict, dict]:
    try:
        stored = json.loads(body)
        frame_raw, visitor = stored["frame"], stored["visitor"]
    except (TypeError, ValueError, KeyError, RecursionError):
        raise PayloadInvalid("not a stored web chat frame") from None
    if not isinstance(frame_raw, str) or not isinstance(visitor, dict) or not visitor.get("visitor_id"):
        raise PayloadInvalid("not a stored web chat frame")
    return parse_frame(frame_raw), visitor


def _thread_key(visitor: dict) -> str:
    from connectors.webchat.visitors import Visitor

    return Visitor(**visitor).thread_key


class WebChatProvider:
    name = "webchat"
    label = "Web chat (the built-in widget)"

    def verify(self, *, channel, body: bytes, headers: Mapping[str, str], url: str) -> None:
        raise SignatureInvalid(f"web chat messages arrive over /ws/chat/{channel.key}/, not as webhooks")

    def dedupe_key(self, *, channel, body: bytes, headers: Mapping[str, str]) -> str:
        frame, visitor = _stored(body)
        return f"{_thread_key(visitor)}:{frame['id']}"

    def normalize(self, *, channel, event) -> list[NormalizedMessage]:
        from connectors.webchat.visitors import Visitor

        frame, data = _stored(bytes(event.body))
        visitor = Visitor(**data)
        external_id = f"{visitor.thread_key}:{frame['id']}"[:255]
        if frame["type"] == "offline":
            return [
                NormalizedMessage(
                    kind=MessageKind.MESSAGE,
                    channel_kind="email",
                    provider=self.name,
                    external_id=external_id,
                    thread_key=f"offline:{visitor.visitor_id}:{frame['id']}",
                    sender=Sender(identity_kind=IdentityKind.EMAIL, address=frame["email"], display_name=frame["name"]),
                    text=frame["text"],
                    subject=f"Chat message: {frame['text'].splitlines()[0][:200]}",
                    extra={"identities": [(IdentityKind.WEB, visitor.identity_address)]},
                )
            ]
        identities = [(IdentityKind.EMAIL, visitor.email)] if visitor.email else []
        return [
            NormalizedMessage(
                kind=MessageKind.MESSAGE,
                channel_kind=channel.kind,
                provider=self.name,
                external_id=external_id,
                thread_key=visitor.thread_key,
                sender=Sender(
                    identity_kind=IdentityKind.WEB, address=visitor.identity_address, display_name=visitor.name
                ),
                text=frame["text"],
                extra={"identities": identities},
            )
        ]

    def send(self, *, channel, message) -> SendResult:
        case = message.case
        if case.channel_kind == "email":
            return self._send_email(channel=channel, message=message)
        from connectors.webchat.services import push_to_conversation

        try:
            push_to_conversation(
                channel_id=channel.pk,
                thread_key=case.thread_key,
                payload={"type": "chat.message", "message": message_frame(message)},
            )
        except Exception as exc:  # the layer is down: the reply stays, failed, visible
            return SendResult(status="failed", error=f"could not reach the chat: {exc}")
        return SendResult(status="sent", provider_message_id=f"sb-{message.pk}")

    def _send_email(self, *, channel, message) -> SendResult:
        """An offline-form case: answered by email to the address the form gave."""
        address = (
            message.case.customer.identities.filter(kind=IdentityKind.EMAIL)
            .order_by("pk")
            .values_list("address", flat=True)
            .first()
        )
        if not address:
            return SendResult(status="failed", error="the customer has no email address")
        subject = message.case.subject or "Your message"
        email = EmailMessage(
            subject=f"Re: {subject} [case {message.case_id}]",
            body=message.text,
            from_email=(channel.config or {}).get("from_email") or settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"Message-ID": f"<sb-{message.pk}@{(channel.config or {}).get('mail_domain', 'switchboard')}>"},
        )
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # SMTP down, refused address: recorded on the message
            return SendResult(status="failed", error=f"email not sent: {exc}")
        return SendResult(status="sent", provider_message_id=f"sb-{message.pk}")


def message_frame(message) -> dict:
    """A message as the widget shows it (no internal notes ever reach it)."""
    return {
        "id": message.pk,
        "direction": message.direction,
        "text": message.text,
        "author": (message.author_agent.display_name if message.author_agent_id else None) or message.bot_name or None,
        "created_at": message.created_at.isoformat() if message.created_at else None,
    }
