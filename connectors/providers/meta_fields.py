"""Reading Meta's webhook bodies defensively: one bad item of a batch is
skipped (and said why), never the whole call."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cases.normalized import MessageKind, NormalizedMessage

PROVIDER = "meta"

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:=+/-]{1,200}$")
MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
MESSENGER_ATTACHMENT_TYPES = {"image": "image/*", "video": "video/*", "audio": "audio/*", "file": ""}
STATUSES = {"sent", "delivered", "read", "failed"}


class Skip(Exception):
    """One item of a batch is not what Meta sends: ignored, the rest kept."""


def as_dict(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise Skip(f"{where} is not an object")
    return value


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_text(value: Any, limit: int = 100_000) -> str:
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def as_id(value: Any, where: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not ID_PATTERN.match(text):
        raise Skip(f"{where} is not an id")
    return text


def as_time(value: Any, *, millis: bool) -> datetime | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    if millis:
        seconds /= 1000
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def ignored(channel, external_id: str, reason: str) -> NormalizedMessage:
    return NormalizedMessage(
        kind=MessageKind.IGNORE, channel_kind=channel.kind, provider=PROVIDER, external_id=external_id,
        extra={"reason": reason},
    )  # fmt: skip
