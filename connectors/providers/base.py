"""What a provider module does: verify, dedupe, normalize, send."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cases.normalized import NormalizedMessage

if TYPE_CHECKING:
    from cases.models import Message
    from connectors.models import Channel, InboundEvent


class SignatureInvalid(Exception):
    """The request is not signed by whom it claims: refuse it, store nothing."""


class PayloadInvalid(Exception):
    """The body is not what this provider sends: 400, kept with its error."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a provider's API said to a send. ``status``: sent, delivered,
    failed (the provider refused: final, shown to the agent), or retry (a
    timeout, a 5xx, a 429: the send is tried again later with backoff)."""

    status: str  # sent, delivered, failed, retry
    provider_message_id: str = ""
    error: str = ""


class Provider(Protocol):
    name: str
    label: str

    def verify(self, *, channel: Channel, body: bytes, headers: Mapping[str, str], url: str) -> None: ...

    def dedupe_key(self, *, channel: Channel, body: bytes, headers: Mapping[str, str]) -> str: ...

    def normalize(self, *, channel: Channel, event: InboundEvent) -> list[NormalizedMessage]: ...

    def send(self, *, channel: Channel, message: Message) -> SendResult: ...


def header(headers: Mapping[str, str], name: str) -> str:
    """A request header by name, whatever its case; '' when absent."""
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return ""


def obj(value: Any) -> dict:
    """A JSON object field, or {} when the sender put anything else there."""
    return value if isinstance(value, dict) else {}


def text(value: Any, limit: int = 255) -> str:
    """A string field, cut to ``limit``, without NULs (no database stores them); '' otherwise."""
    return value.replace("\x00", "")[:limit] if isinstance(value, str) else ""


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signatures_match(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), (given or "").encode())
