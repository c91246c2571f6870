"""What every provider's raw event becomes: one shape for every channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class MessageKind(StrEnum):
    MESSAGE = "message"  # a customer wrote
    DELIVERY_STATUS = "delivery_status"  # what happened to one of our replies
    CALL_EVENT = "call_event"
    BOT_HANDOFF = "bot_handoff"  # a chatbot hands over, with its transcript
    IGNORE = "ignore"  # auto-replies, echoes, things with nothing to do


@dataclass(frozen=True, slots=True)
class Sender:
    identity_kind: str  # cases.identities.IdentityKind
    address: str
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str = "application/octet-stream"
    size: int | None = None
    url: str = ""


@dataclass(frozen=True, slots=True)
class NormalizedMessage:
    kind: MessageKind
    channel_kind: str
    provider: str
    external_id: str  # the provider's message id, unique per channel
    thread_key: str = ""
    sender: Sender | None = None
    text: str = ""
    html: str = ""  # raw from the provider: sanitized when stored
    subject: str = ""
    language: str = ""
    attachments: tuple[Attachment, ...] = ()
    sent_at: datetime | None = None
    delivery_status: str = ""  # for DELIVERY_STATUS: sent, delivered, read, failed
    delivery_error: str = ""
    extra: dict = field(default_factory=dict)
